# The real model over training seeds (issue 24): SmolLM2-135M-Instruct, the recipe `make demo` trains.
# SMOLLM2_BASE, REAL_RECIPE and SEEDS come from the Makefile.
#   make smollm2-seeds                 base vs SFT per seed on the 200 held-out questions, one table
#   make smollm2-seeds SEEDS="0 1"     fewer seeds; SMOLLM2_EVAL_ARGS="--dtype bfloat16" scores 2-3x faster
SMOLLM2_SEEDS_MODELS ?= models/smollm2-seeds
SMOLLM2_SEEDS_OUT    ?= artifacts/smollm2-seeds
SMOLLM2_EVAL_ARGS    ?=

.PHONY: smollm2-seeds
##@ evaluate
# Per seed: the recipe with --seed/--data_seed, then evaluate.sql base vs SFT. The base's answers do not
# depend on the seed: the first evaluation generates them (the slow part: the base answers in prose) and
# the next seeds start from a copy of them, which evaluate.sql resumes from (same model, data and
# settings, or it refuses). A retrained seed's own answers are always generated anew.
smollm2-seeds: smollm2-base ## SmolLM2 recipe over SEEDS ("0 1 2"): base vs SFT each, one table with mean and spread (artifacts/smollm2-seeds/table.md)
	@set -e; prev=; for s in $(SEEDS); do \
	  m=$(SMOLLM2_SEEDS_MODELS)/$$s/sft; o=$(SMOLLM2_SEEDS_OUT)/seed$$s; \
	  $(BIN)/python -m tunebench.train --config $(REAL_RECIPE) --model_name_or_path=$(SMOLLM2_BASE) \
	    --seed=$$s --data_seed=$$s --output_dir=$$m --overwrite=true; \
	  rm -f $$o/predictions.jsonl $$o/predictions.meta.json; \
	  if [ -n "$$prev" ] && [ -f $$prev/baseline/predictions.jsonl ] && [ ! -f $$o/baseline/predictions.jsonl ]; then \
	    mkdir -p $$o/baseline && cp $$prev/baseline/predictions.jsonl $$prev/baseline/predictions.meta.json $$o/baseline/; fi; \
	  $(BIN)/python -m tunebench.evaluate.sql --model $$m/merged --baseline $(SMOLLM2_BASE) --out $$o $(SMOLLM2_EVAL_ARGS); \
	  prev=$$o; \
	done
	$(BIN)/python -m tunebench.evaluate.sql across $(foreach s,$(SEEDS),$(SMOLLM2_SEEDS_OUT)/seed$(s)) \
		--labels base SFT --out $(SMOLLM2_SEEDS_OUT)/table.md

# SFT vs DPO on execution-feedback pairs from the real SFT model, over SEEDS. Per seed: the SFT run of
# `make smollm2-seeds` (trained here if missing), pairs sampled from it on the training questions after
# the first 200 (the dev split the DPO settings were chosen on: docs/preference.md), the DPO recipe,
# then evaluate.sql DPO against SFT on the 200 held-out questions. The SFT model's answers there are the
# ones `make smollm2-seeds` generated when they are newer than the model (evaluate.sql resumes from them).
SMOLLM2_DPO_RECIPE ?= recipes/preference/smollm2-135m-text-to-sql-dpo.yaml
SMOLLM2_DPO_OUT    ?= artifacts/smollm2-dpo-seeds
SMOLLM2_PAIRS_ARGS ?= --skip 200 --limit 400 --k 4 --temperature 1.0 --dtype bfloat16
SMOLLM2_DPO_ARGS   ?=

.PHONY: smollm2-dpo-seeds
smollm2-dpo-seeds: smollm2-base ## SmolLM2 SFT vs DPO over SEEDS: pairs from each SFT model, DPO, both scored, one table (artifacts/smollm2-dpo-seeds/table.md)
	@set -e; for s in $(SEEDS); do \
	  m=$(SMOLLM2_SEEDS_MODELS)/$$s; o=$(SMOLLM2_DPO_OUT)/seed$$s; sft_answers=$(SMOLLM2_SEEDS_OUT)/seed$$s/predictions.jsonl; \
	  test -f $$m/sft/merged/config.json || $(BIN)/python -m tunebench.train --config $(REAL_RECIPE) \
	    --model_name_or_path=$(SMOLLM2_BASE) --seed=$$s --data_seed=$$s --output_dir=$$m/sft --overwrite=true; \
	  $(BIN)/python -m tunebench.train.pairs --model $$m/sft/merged --data data/text2sql/train.jsonl \
	    --out data/pairs/smollm2-seed$$s.jsonl $(SMOLLM2_PAIRS_ARGS) --seed $$s; \
	  $(BIN)/python -m tunebench.train --config $(SMOLLM2_DPO_RECIPE) --model_name_or_path=$$m/sft/merged \
	    --dataset_name=data/pairs/smollm2-seed$$s.jsonl --output_dir=$$m/dpo --seed=$$s --data_seed=$$s \
	    --overwrite=true $(SMOLLM2_DPO_ARGS); \
	  rm -rf $$o/predictions.jsonl $$o/predictions.meta.json $$o/baseline; \
	  if [ -f $$sft_answers ] && [ $$sft_answers -nt $$m/sft/merged/config.json ]; then mkdir -p $$o/baseline && \
	    cp $$sft_answers $$o/baseline/predictions.jsonl && cp $${sft_answers%.jsonl}.meta.json $$o/baseline/; fi; \
	  $(BIN)/python -m tunebench.evaluate.sql --model $$m/dpo/merged --baseline $$m/sft/merged --out $$o $(SMOLLM2_EVAL_ARGS); \
	done
	$(BIN)/python -m tunebench.evaluate.sql across $(foreach s,$(SEEDS),$(SMOLLM2_DPO_OUT)/seed$(s)) \
		--labels SFT DPO --out $(SMOLLM2_DPO_OUT)/table.md
