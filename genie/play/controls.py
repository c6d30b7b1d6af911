"""From what a person presses to a latent action: number keys, and arrows/space through the
action map (eval/action_map.json) that binds each true action of the data to a latent one (the
platformer's "right+jump", Procgen's "RIGHT+UP": jump is the up key there)."""

from __future__ import annotations

from genie.play.session import PlaySession


def bound_action(session: PlaySession, left: bool = False, right: bool = False, jump: bool = False) -> int | None:
    """The latent action bound to a direction and/or jump (None when nothing is pressed or the
    world has no action map entry for it)."""
    direction = "left" if left and not right else "right" if right and not left else ""
    if not direction and not jump:
        return None
    return _mapped(session, ["+".join(filter(None, [direction, key])) for key in (("jump", "up") if jump else ("",))])


def idle_action(session: PlaySession) -> int:
    """What the world does when nothing is pressed: the latent action bound to noop, else 0."""
    action = _mapped(session, ["noop"])
    return 0 if action is None else action


def _mapped(session: PlaySession, names: list[str]) -> int | None:
    """The latent action bound to the first of `names` in the action map, whatever its case."""
    table = {name.lower(): action for name, action in (session.action_map or {}).items()}
    return next((table[name] for name in names if name in table), None)


def parse_actions(text: str, session: PlaySession) -> list[int]:
    """'0,3,3,1' or 'right,right,jump' (true actions through the action map) -> latent actions."""
    actions = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        if item.lstrip("-").isdigit():
            action = int(item)
        elif session.action_map and item in session.action_map:
            action = session.action_map[item]
        else:
            known = f"; or one of {sorted(session.action_map)}" if session.action_map else ""
            raise ValueError(f"unknown action {item!r}: use latent actions 0..{session.num_actions - 1}{known}")
        if not 0 <= action < session.num_actions:
            raise ValueError(f"action {action} is out of range: this world has latent actions "
                             f"0..{session.num_actions - 1}")
        actions.append(action)
    if not actions:
        raise ValueError("no actions given: e.g. --actions 0,3,3,1")
    return actions
