"""Playing a world in a pygame window: held keys pick the latent action of every next frame.

Number keys 1..A choose latent actions 0..A-1; arrow keys and space (or up) go through the
action map when the world has one; with nothing pressed the world takes its idle action
(the one bound to noop). R resets to the prompt, S saves the session as a GIF, P pauses,
Esc or Q quits.
"""

from __future__ import annotations

import time

import numpy as np

from genie.play.controls import bound_action, idle_action
from genie.play.session import PlaySession

STATUS_HEIGHT = 74


class Window:
    def __init__(self, session: PlaySession, reset, scale: int = 8, max_fps: float = 15.0, record: str = "play.gif"):
        """`reset()` restarts the world at its prompt; `record`: where S saves the session."""
        import pygame

        self.pygame, self.session, self.reset_world = pygame, session, reset
        self.scale, self.max_fps, self.record = scale, max_fps, record
        pygame.init()
        pygame.display.set_caption("genie: a learned world")
        self.screen = pygame.display.set_mode((session.width * scale, session.height * scale + STATUS_HEIGHT))
        self.font = pygame.font.Font(None, 22)
        self.clock = pygame.time.Clock()
        self.paused, self.running = False, True
        self.action, self.fps, self.message = None, 0.0, ""
        self.frame = reset()
        self.draw()

    def held_action(self) -> int:
        pg = self.pygame
        keys = pg.key.get_pressed()
        for i in range(min(self.session.num_actions, 9)):
            if keys[pg.K_1 + i]:
                return i
        bound = bound_action(self.session, left=keys[pg.K_LEFT], right=keys[pg.K_RIGHT],
                             jump=keys[pg.K_SPACE] or keys[pg.K_UP])
        return idle_action(self.session) if bound is None else bound

    def handle(self, event) -> None:
        pg = self.pygame
        if event.type == pg.QUIT or (event.type == pg.KEYDOWN and event.key in (pg.K_ESCAPE, pg.K_q)):
            self.running = False
        elif event.type == pg.KEYDOWN and event.key == pg.K_r:
            self.frame, self.message = self.reset_world(), "reset to the prompt"
        elif event.type == pg.KEYDOWN and event.key == pg.K_p:
            self.paused = not self.paused
        elif event.type == pg.KEYDOWN and event.key == pg.K_s:
            self.message = f"saved {self.session.save(self.record)}"

    def tick(self) -> None:
        """One turn of the loop: events, then (unless paused) one frame under the held action."""
        for event in self.pygame.event.get():
            self.handle(event)
        if self.running and not self.paused:
            self.action = self.held_action()
            start = time.perf_counter()
            self.frame = self.session.step(self.action)
            self.fps = 0.9 * self.fps + 0.1 / max(time.perf_counter() - start, 1e-6) if self.fps else \
                1 / max(time.perf_counter() - start, 1e-6)
        self.draw()
        self.clock.tick(self.max_fps)

    def draw(self) -> None:
        pg, w = self.pygame, self.session
        image = np.ascontiguousarray(self.frame.repeat(self.scale, 0).repeat(self.scale, 1).swapaxes(0, 1))
        self.screen.fill((24, 24, 28))
        self.screen.blit(pg.surfarray.make_surface(image), (0, 0))
        names = w.action_names()
        action = "paused" if self.paused else f"action {names[self.action]}" if self.action is not None else ""
        # The action's label (its bound true actions) can be long: it goes last, where a narrow
        # window cuts it rather than the frame rate.
        lines = [f"{self.fps:4.1f} frames/s   frame {len(w.actions)}   {action}",
                 f"keys 1-{min(w.num_actions, 9)}: latent actions" + ("   arrows, space: mapped" if w.action_map else ""),
                 f"R reset   S save   P pause   Esc quit   {self.message}"]
        for i, line in enumerate(lines):
            self.screen.blit(self.font.render(line, True, (230, 230, 230)), (8, w.height * self.scale + 6 + 22 * i))
        pg.display.flip()

    def run(self) -> None:
        while self.running:
            self.tick()
        self.pygame.quit()
