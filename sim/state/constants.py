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


class CareerStage(IntEnum):
    """Career stage of a talent group, derived from age and graduation (not a separate state)."""

    NEW_GRADUATE = 0  # within a year of graduating from a city university
    EARLY = 1  # under 30
    MID = 2  # 30-44
    SENIOR = 3  # 45 and over
    RETIRED = 4


EARLY_CAREER_UNDER = 30.0  # years of age: early career below, mid career below MID_CAREER_UNDER, senior after
MID_CAREER_UNDER = 45.0
NEW_GRADUATE_YEARS = 1.0  # a new graduate within a year of graduating from a city university


def career_stage(age, years_since_graduation, retired):
    """Vectorised career stage (CareerStage codes) from age (years) and years since graduation (NaN: unknown)."""
    import numpy as np

    age = np.asarray(age, float)
    stage = np.where(age < EARLY_CAREER_UNDER, CareerStage.EARLY,
                     np.where(age < MID_CAREER_UNDER, CareerStage.MID, CareerStage.SENIOR))
    stage = np.where(np.asarray(years_since_graduation, float) < NEW_GRADUATE_YEARS, CareerStage.NEW_GRADUATE, stage)
    return np.where(retired, CareerStage.RETIRED, stage).astype(np.int8)


NO_EMPLOYER = -1  # -1 and -2 index the end of ClusterModel.wage_offer's per-employer table
OTHER_SECTOR = -2  # skilled jobs outside manufacturing (services, public sector)

SEGMENT_ASSEMBLY = 1  # index of "processing & assembly" in city.toml [segments] keys
