"""Stage 1: supervised fine-tuning with TRL's SFTTrainer (LoRA / QLoRA / full), then merge."""
