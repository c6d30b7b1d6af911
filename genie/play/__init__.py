"""Playing a trained world: the session (session.py) and its front-ends, a pygame window, a local web
page, scripted (headless) sessions and a gymnasium environment."""
