"""The training loss on the CPU: cross-entropy over the answer tokens only."""

from __future__ import annotations


def completion_only_loss(model, inputs: dict, num_items_in_batch=None):
    """The causal-LM loss with logits only where a token is trained (the answers):
    the same value as the model's own loss, without a (tokens x vocabulary) float
    matrix for the prompts, which on the CPU held most of the memory (bench/train_memory.py)."""
    import torch

    inputs = dict(inputs)
    labels = inputs.pop("labels")
    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = causal.model(**inputs).last_hidden_state
    targets = torch.nn.functional.pad(labels, (0, 1), value=-100)[:, 1:]  # token i predicts i + 1
    trained = targets != -100
    logits = causal.lm_head(hidden[trained]).float()
    loss = torch.nn.functional.cross_entropy(logits, targets[trained], reduction="sum")
    if num_items_in_batch is None:
        return loss / trained.sum().clamp(min=1)
    return loss / (num_items_in_batch.to(loss.device) if torch.is_tensor(num_items_in_batch)
                   else num_items_in_batch)
