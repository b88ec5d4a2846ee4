"""Dataset: de-identified reports -> (instruction, response) pairs, splits, formats, augmentation."""
