"""What a fitted model is: the spec the engine reads, families and links, fitting, priors, adapters."""
