"""Stage 3: serve a fine-tuned model behind a Gradio text-to-SQL app (`python -m tunebench.serve`).

Backends (`tunebench.serve.backends`): any OpenAI-compatible server, TGI (Messages API or native
/generate_stream), or the model in-process. `python -m tunebench.serve.ask` asks one question.
"""
