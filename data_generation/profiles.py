"""Size profiles of the synthetic field-service network.

A profile fixes only the *shape* of the world (how many articles, depots, vans, how
many articles each site stocks, how many intervention types); everything else is drawn
from the seed. The sizes are chosen so that each profile serves one purpose:
``tiny`` for unit tests (every depot pair and most van pairs stocked), ``small`` for a
quick look in the Dagster UI, ``large`` for the performance target (~300,000 stocked
pairs) and ``xl`` (5 x large) for stress tests.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """Shape of one synthetic network.

    ``depot_article_share`` is the probability that a depot stocks a given article;
    ``articles_per_van`` is the number of articles each van stocks (the articles of its
    technicians' bills of materials first, random others for the rest).
    """

    name: str
    articles: int
    depots: int
    vans: int
    depot_article_share: float
    articles_per_van: int
    intervention_types: int

    @property
    def sites(self) -> int:
        return self.depots + self.vans

    @property
    def approximate_pairs(self) -> int:
        """Expected number of stocked (site, article) pairs, for documentation and sizing."""
        per_van = min(self.articles_per_van, self.articles)
        return round(self.depots * self.depot_article_share * self.articles + self.vans * per_van)


PROFILES: dict[str, Profile] = {
    "tiny": Profile("tiny", articles=50, depots=1, vans=4, depot_article_share=1.0,
                    articles_per_van=40, intervention_types=10),
    "small": Profile("small", articles=2_000, depots=2, vans=48, depot_article_share=0.6,
                     articles_per_van=150, intervention_types=15),
    "large": Profile("large", articles=20_000, depots=10, vans=990, depot_article_share=0.5,
                     articles_per_van=200, intervention_types=25),
    "xl": Profile("xl", articles=100_000, depots=50, vans=4_950, depot_article_share=0.1,
                  articles_per_van=200, intervention_types=30),
}
