"""Specific health checkups (特定健診) and guidance (特定保健指導): V08 archives, the lake,
stratification (階層化), metabolic judgement, rates and programmes."""

from kokuho.checkups._model import Checkup, Guidance, GuidanceLevel, Items, Metabolic, Observation

__all__ = ["Checkup", "Guidance", "GuidanceLevel", "Items", "Metabolic", "Observation"]
