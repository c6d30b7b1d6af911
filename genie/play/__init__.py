"""Front-ends of play: a pygame window, a local web page, and scripted (headless) sessions."""
