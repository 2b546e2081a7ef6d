"""PeerBot: configuration, the clock, the application factory and the domain logic."""
