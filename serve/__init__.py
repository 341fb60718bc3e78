"""Stage 3: serve a fine-tuned model behind a Gradio text-to-SQL app (`python -m tunebench.serve`).

The model is one spec (`tunebench.chat`): a folder loaded in process, a hub id, or any
OpenAI-compatible server (TGI's Messages API, vLLM, SGLang, `transformers serve`).
`tunebench.serve.question` answers one question start to finish; `python -m tunebench.serve.ask`
asks one from the command line.
"""
