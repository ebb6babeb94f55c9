"""The wire protocols the gateway speaks, one folder each: routes, wire codec, channel."""
