"""Understanding what families write: language, intent and risk; commands, choices and ages.

Training data stays in Rasa's NLU YAML format in nlu/data/<lang>.yml (intents, choices) and
nlu/data/risk/<lang>.yml (risk examples and patterns); held-out data in nlu/eval/.
"""

from nlu.age import parse_age
from nlu.examples import CATEGORY_LEVEL, INTENTS, LANGUAGES, RISK_CATEGORIES, RISK_LEVELS, RiskLevel
from nlu.language import LanguageDetector, LanguageGuess
from nlu.matching import Lexicon, load_lexicon
from nlu.parse import Parse, Understanding, load, parse
from nlu.risk import RiskAssessment
from nlu.text import MAX_TEXT, clean, normalize

__all__ = [
    "CATEGORY_LEVEL",
    "INTENTS",
    "LANGUAGES",
    "MAX_TEXT",
    "RISK_CATEGORIES",
    "RISK_LEVELS",
    "LanguageDetector",
    "LanguageGuess",
    "Lexicon",
    "Parse",
    "RiskAssessment",
    "RiskLevel",
    "Understanding",
    "clean",
    "load",
    "load_lexicon",
    "normalize",
    "parse",
    "parse_age",
]
