"""Survey clients, one module per survey; new surveys plug in by configuration name."""
