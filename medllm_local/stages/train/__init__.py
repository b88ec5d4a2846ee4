"""Training: the QLoRA / LoRA trainer and the plan of what fits the hardware."""
