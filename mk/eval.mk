# Text-to-SQL evaluation (tunebench.evaluate.sql). MODEL and BASE_MODEL come from the Makefile.
#   make eval-sql                                   the fine-tuned tiny model on the embedded test split
#   make eval-sql BASELINE=models/tiny-base         base vs fine-tuned, side by side
#   make eval-sql MODEL=models/x/merged EVAL_SQL_ARGS="--dataset sql-create-context --limit 500"
#   make eval-sql MODEL=http://127.0.0.1:8080/v1#tgi SQL_OUT=artifacts/x   a model behind a server
# SQL_OUT is --output_dir (default: models/<run>/eval/sql, or models/<model id>/eval/sql outside a run).
#   make eval-sql-score PREDICTIONS=preds.txt SQL_OUT=artifacts/x EVAL_SQL_ARGS="--dataset spider --source ~/spider"
BASELINE ?=
SQL_OUT ?=
EVAL_SQL_ARGS ?=
PREDICTIONS ?=

.PHONY: eval-sql eval-sql-score
eval-sql: setup ## text-to-SQL execution accuracy: make eval-sql [MODEL=…] [BASELINE=models/tiny-base] [EVAL_SQL_ARGS=…]
	$(BIN)/python -m tunebench.evaluate.sql run --model_name_or_path $(MODEL) $(if $(BASELINE),--baseline $(BASELINE)) \
		$(if $(SQL_OUT),--output_dir $(SQL_OUT)) $(EVAL_SQL_ARGS)

eval-sql-score: setup ## score any system's SQL: make eval-sql-score PREDICTIONS=preds.txt SQL_OUT=DIR EVAL_SQL_ARGS="--dataset spider --source DIR"
	$(BIN)/python -m tunebench.evaluate.sql score --predictions $(PREDICTIONS) --output_dir $(or $(SQL_OUT),$(error SQL_OUT=DIR is needed)) $(EVAL_SQL_ARGS)

