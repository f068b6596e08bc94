"""What a fitted model is: the spec the engine reads, families and links described, draws from brms or arrays."""
