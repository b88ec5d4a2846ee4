"""De-identification: finding identifiers (Presidio, rules, context, the clinical NER), surrogates, the residual scan."""
