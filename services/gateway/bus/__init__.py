"""The gateway's side of NATS: the bridge, resume marks, the robots' link, projects, live feed."""
