"""Levers as policy instruments: what each lever is, through which channels it acts, what it costs,
and when it holds (schedules).

The declarations live with the lever in ``configs/parameters.toml`` (one place per lever, read by the
model, the sweeps and the app): name, remedy group, unit, range, status-quo value, ``cost`` (how its
programme cost is computed: :data:`sim.inputs.config.COST_KINDS`) and ``[levers.<name>.channels]``, the named
mechanisms through which it changes what agents face (``coordination.matchmaking``: the chance of a
supply link; ``coordination.planned_entry``: where new firms go; ...).

The submodels never read a lever's value. Each quarter they ask the model's :class:`Policy` "how
strong is channel X now?" (:meth:`Policy.level`); the answer is the lever's value in that quarter
after its schedule (:meth:`sim.inputs.config.Config.lever_at`), or its status-quo value when the channel is
switched off (``channels_off``) — so switching all of a lever's channels off leaves the status quo
(tested for every lever), and ``experiments.explain`` can attribute an effect to each channel.
Programme costs follow the lever's scheduled value (:meth:`Policy.value`): a running programme costs
money even when a channel is switched off for analysis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sim.inputs.config import Channel, Config, default_config


@dataclass(frozen=True)
class Instrument:
    """One lever as a policy instrument (a view on its declaration in ``parameters.toml``)."""

    name: str
    group: int
    unit: str
    low: float
    high: float
    default: float
    label_en: str
    label_zh: str
    cost: Mapping[str, str]
    channels: tuple[Channel, ...]

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.channels)


def instruments(config: Config | None = None) -> dict[str, Instrument]:
    """Every lever as an :class:`Instrument`, in file order."""
    schema = (config or default_config()).schema
    return {p.name: Instrument(name=p.name, group=int(p.group), unit=p.unit, low=p.low, high=p.high,
                               default=p.default, label_en=p.label_en, label_zh=p.label_zh, cost=p.cost,
                               channels=p.channels)
            for p in schema.values() if p.kind == "levers"}


def channels(config: Config | None = None) -> dict[str, Channel]:
    """Every declared channel by name."""
    return {c.name: c for inst in instruments(config).values() for c in inst.channels}


class Policy:
    """The levers as the agents meet them in the current quarter.

    ``value(lever)``: the lever's value after its schedule (for its programme cost and spending
    columns); ``level(channel)``: the strength at which a channel acts (the lever's scheduled value, or
    its status-quo value if the channel is switched off). :meth:`advance` moves to a quarter.
    """

    def __init__(self, config: Config):
        self.config = config
        self._lever_of = {c.name: p.name for p in config.schema.values() for c in p.channels}
        self._default = {p.name: p.default for p in config.schema.values() if p.kind == "levers"}
        self._values: dict[str, float] = {}
        self._levels: dict[str, float] = {}
        self.quarter = -1

    def advance(self, quarter: int) -> None:
        """The levers' values and the channels' strengths in ``quarter`` (the model's index)."""
        cfg = self.config
        self.quarter = quarter
        self._values = {name: cfg.lever_at(name, quarter) for name in self._default}
        off = cfg.channels_off
        self._levels = {ch: (self._default[lever] if ch in off else self._values[lever])
                        for ch, lever in self._lever_of.items()}

    def value(self, lever: str) -> float:
        """The lever's value this quarter (after its schedule; channels do not matter)."""
        return self._values[lever]

    def level(self, channel: str) -> float:
        """The strength at which ``channel`` acts this quarter (KeyError for an undeclared channel)."""
        return self._levels[channel]

    def is_on(self, channel: str) -> bool:
        """Is ``channel`` acting beyond the status quo this quarter?"""
        lever = self._lever_of[channel]
        return self._levels[channel] != self._default[lever]
