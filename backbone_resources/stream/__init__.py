"""The stream family: where stored bars are mirrored for the trading runtime (Kafka, or a local log)."""
