"""Codes used in the state arrays (small ints, so numpy can group by them)."""

from enum import IntEnum


class Loc(IntEnum):
    """Where a talent super-individual is. Off-map destinations pull talent away (MISSION §2.2)."""

    CITY = 0
    BEIJING = 1
    TIANJIN = 2
    ELSEWHERE = 3
    RETIRED = 4


DESTINATION_LOCS = (Loc.BEIJING, Loc.TIANJIN, Loc.ELSEWHERE)
CHOICES = (Loc.CITY, Loc.BEIJING, Loc.TIANJIN, Loc.ELSEWHERE)  # columns of the utility matrix


class SizeClass(IntEnum):
    """Firm ladder (paper §1): leaders (龙头), national little giants (专精特新小巨人), other SMEs."""

    SME = 0
    LITTLE_GIANT = 1
    LEADER = 2


class Field(IntEnum):
    ENGINEERING = 0
    DIGITAL = 1
    OTHER = 2


class Degree(IntEnum):
    VOCATIONAL = 0
    BACHELOR = 1
    POSTGRADUATE = 2


NO_EMPLOYER = -1
OTHER_SECTOR = -2  # skilled jobs outside manufacturing (services, public sector)

SEGMENT_ASSEMBLY = 1  # index of "processing & assembly" in city.toml [segments] keys
