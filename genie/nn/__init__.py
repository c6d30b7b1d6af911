"""Neural-network parts shared by the models: the spatiotemporal transformer, motion features."""
