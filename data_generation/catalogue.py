"""The article catalogue and the bills of materials of intervention types.

Articles get their descriptive attributes here (category, importance, cost, volume,
lead time, lot size, active flag). Their ``stock_min``/``stock_max`` are sized later,
from the demand the generated network will actually put on them (see
``replenishment.size_stock_limits``), so that the replenishment the pipeline plans
is neither trivially satisfied nor always in crisis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

CATEGORIES = ("FIBRE", "CUIVRE", "OUTILLAGE", "CONSOMMABLE", "ENERGIE")
CATEGORY_SHARES = (0.40, 0.35, 0.08, 0.12, 0.05)
IMPORTANCES = ("CRITIQUE", "IMPORTANT", "STANDARD")
IMPORTANCE_SHARES = (0.10, 0.30, 0.60)
ACTIVE_SHARE = 0.95

_NOUNS = {
    "FIBRE": ("Cordon optique SC/APC", "Connecteur SC/APC", "Boîtier PTO", "Cassette d'épissure",
              "Câble de branchement optique", "Protection d'épissure", "Coupleur optique 1x8",
              "Jarretière LC/UPC", "Tiroir optique", "Module PBO", "ONT fibre", "Traversée de mur"),
    "CUIVRE": ("Jarretière cuivre", "Réglette 10 paires", "Câble 2 paires", "Connecteur RJ45",
               "Filtre ADSL", "Boîtier de raccordement", "Parafoudre", "Module de protection",
               "Prise T", "Câble 4 paires", "Manchon de jonction", "Tête de câble"),
    "OUTILLAGE": ("Cliveuse", "Pince à dénuder", "Réflectomètre", "Wattmètre optique",
                  "Sertisseuse RJ45", "Testeur de ligne", "Lampe frontale", "Kit de nettoyage"),
    "CONSOMMABLE": ("Collier de serrage", "Gaine thermorétractable", "Ruban adhésif",
                    "Lingettes alcool", "Cheville", "Vis inox", "Étiquette", "Serre-câble"),
    "ENERGIE": ("Batterie 12V", "Onduleur", "Chargeur", "Câble d'alimentation", "Fusible",
                "Module redresseur"),
}
_VARIANTS = ("2 m", "5 m", "10 m", "20 m", "gris", "noir", "blanc", "x10", "x50", "x100", "v2",
             "pro", "IP65", "extérieur", "intérieur", "compact")
_MEDIAN_COST = {"FIBRE": 8.0, "CUIVRE": 5.0, "OUTILLAGE": 150.0, "CONSOMMABLE": 1.5, "ENERGIE": 60.0}
_BULKY = {"OUTILLAGE", "ENERGIE"}

# Intervention types, interleaved so that any prefix mixes fibre, copper and general work.
INTERVENTION_TYPES = (
    ("RACCORDEMENT_FIBRE", "FIBRE"), ("DEPANNAGE_CUIVRE", "CUIVRE"), ("DEPANNAGE_FIBRE", "FIBRE"),
    ("MAINTENANCE_PREVENTIVE", "GENERAL"), ("RACCORDEMENT_CUIVRE", "CUIVRE"),
    ("MISE_EN_SERVICE_FTTH", "FIBRE"), ("REMPLACEMENT_REGLETTE", "CUIVRE"),
    ("INSTALLATION_PBO", "FIBRE"), ("INTERVENTION_ENERGIE", "GENERAL"), ("DEPANNAGE_ADSL", "CUIVRE"),
    ("SOUDURE_FIBRE", "FIBRE"), ("MAINTENANCE_SR", "CUIVRE"), ("MESURE_REFLECTOMETRIE", "FIBRE"),
    ("REMPLACEMENT_BATTERIE", "GENERAL"), ("REPARATION_CABLE_CUIVRE", "CUIVRE"),
    ("BRASSAGE_PM", "FIBRE"), ("INSTALLATION_PARAFOUDRE", "CUIVRE"), ("DEPLACEMENT_PTO", "FIBRE"),
    ("VISITE_TECHNIQUE", "GENERAL"), ("TRANSFERT_LIGNE", "CUIVRE"), ("REMPLACEMENT_ONT", "FIBRE"),
    ("MAINTENANCE_PM", "FIBRE"), ("CONSTRUCTION_LIGNE_CUIVRE", "CUIVRE"), ("AUDIT_SITE", "GENERAL"),
    ("REPRISE_RACCORDEMENT_FIBRE", "FIBRE"), ("POSE_POTEAU", "CUIVRE"),
    ("RACCORDEMENT_ENTREPRISE_FIBRE", "FIBRE"), ("SECURISATION_CHANTIER", "GENERAL"),
    ("ELAGAGE_RESEAU", "GENERAL"), ("MIGRATION_CUIVRE_FIBRE", "FIBRE"),
)
# The article categories a type of each family draws its parts from (main, then extras).
_FAMILY_CATEGORIES = {"FIBRE": ("FIBRE",), "CUIVRE": ("CUIVRE",), "GENERAL": ("ENERGIE", "OUTILLAGE")}
_OPTIONAL_QUANTITIES = (0.1, 0.2, 0.25, 0.5, 1.0, 1.0, 2.0)


@dataclass
class Catalogue:
    """Article attributes as arrays indexed by article number (0..n-1)."""

    article_id: np.ndarray  # str
    designation: np.ndarray  # str
    category: np.ndarray  # int code into CATEGORIES
    importance: np.ndarray  # int code into IMPORTANCES
    unit_cost: np.ndarray
    unit_volume: np.ndarray
    lead_time_days: np.ndarray
    lot_size: np.ndarray
    active: np.ndarray  # bool

    @property
    def size(self) -> int:
        return len(self.article_id)


def draw_catalogue(n_articles: int, rng: np.random.Generator) -> Catalogue:
    """Draw ``n_articles`` articles with the category/importance mix of a fibre+copper operator."""
    category = rng.choice(len(CATEGORIES), size=n_articles, p=CATEGORY_SHARES)
    importance = rng.choice(len(IMPORTANCES), size=n_articles, p=IMPORTANCE_SHARES)

    designation = np.empty(n_articles, dtype=object)
    variant = rng.integers(0, len(_VARIANTS), n_articles)
    noun_draw = rng.random(n_articles)
    for code, name in enumerate(CATEGORIES):
        rows = np.flatnonzero(category == code)
        nouns = np.array(_NOUNS[name], dtype=object)
        picked = nouns[(noun_draw[rows] * len(nouns)).astype(np.int64)]
        designation[rows] = picked + " " + np.array(_VARIANTS, dtype=object)[variant[rows]]

    median_cost = np.array([_MEDIAN_COST[c] for c in CATEGORIES])[category]
    unit_cost = np.round(median_cost * rng.lognormal(0.0, 0.8, n_articles), 2)
    unit_cost[rng.random(n_articles) < 0.01] = 0.0  # free items (samples, recovered parts)

    bulky = np.isin(category, [CATEGORIES.index(c) for c in _BULKY])
    unit_volume = 0.12 * rng.lognormal(0.0, 0.9, n_articles) * np.where(bulky, 4.0, 1.0)
    unit_volume = np.round(np.clip(unit_volume, 0.05, 3.0), 2)

    lead_time = np.clip(np.rint(rng.gamma(2.0, 4.0, n_articles)), 1, 30).astype(np.int64)
    lead_time[rng.random(n_articles) < 0.03] = 0

    lot_size = rng.choice(np.array([1, 5, 10, 20]), size=n_articles, p=[0.72, 0.14, 0.09, 0.05])
    active = rng.random(n_articles) < ACTIVE_SHARE

    width = max(6, len(str(n_articles)))
    article_id = np.array([f"ART{i:0{width}d}" for i in range(1, n_articles + 1)], dtype=object)
    return Catalogue(article_id, designation, category, importance, unit_cost, unit_volume,
                     lead_time, lot_size, active)


@dataclass
class BillOfMaterials:
    """Parts per intervention: one row per (type, article), quantities > 0.

    ``core`` marks the parts every intervention of the type uses (they make the
    fast movers of vans); the others are used occasionally, hence fractional quantities.
    """

    type_names: tuple[str, ...]
    type_family: tuple[str, ...]
    bom_type: np.ndarray
    bom_article: np.ndarray
    bom_quantity: np.ndarray
    bom_core: np.ndarray

    def frame(self, catalogue: Catalogue) -> pl.DataFrame:
        return pl.DataFrame({
            "intervention_type": np.array(self.type_names, dtype=object)[self.bom_type],
            "article_id": catalogue.article_id[self.bom_article],
            "quantity": self.bom_quantity.astype(np.float64),
        }, schema={"intervention_type": pl.String, "article_id": pl.String, "quantity": pl.Float64})


def draw_bill_of_materials(n_types: int, catalogue: Catalogue,
                           rng: np.random.Generator) -> BillOfMaterials:
    """Give each intervention type 1-2 core parts and 1-3 occasional ones.

    Core parts come from a small pool per family, so several types share them (one
    optical outlet serves every fibre connection type): vans then have a handful of
    fast movers and many intermittent articles, as in real field service.
    """
    if not 1 <= n_types <= len(INTERVENTION_TYPES):
        raise ValueError(f"intervention types must be within 1..{len(INTERVENTION_TYPES)}, got {n_types}")
    chosen = INTERVENTION_TYPES[:n_types]
    active_ids = np.flatnonzero(catalogue.active)

    def pool(categories: tuple[str, ...], size: int) -> np.ndarray:
        codes = [CATEGORIES.index(c) for c in categories]
        members = active_ids[np.isin(catalogue.category[active_ids], codes)]
        if len(members) == 0:
            members = active_ids
        return rng.choice(members, size=min(size, len(members)), replace=False)

    families = sorted({family for _, family in chosen})
    per_family = {f: sum(1 for _, fam in chosen if fam == f) for f in families}
    core_pool = {f: pool(_FAMILY_CATEGORIES[f], per_family[f] // 2 + 1) for f in families}
    optional_pool = {f: pool(_FAMILY_CATEGORIES[f], 3 * per_family[f] + 2) for f in families}
    consumables = pool(("CONSOMMABLE",), max(3, n_types // 3))

    types, articles, quantities, cores = [], [], [], []
    for m, (_, family) in enumerate(chosen):
        n_core = 1 + int(rng.random() < 0.3)
        core = rng.choice(core_pool[family], size=min(n_core, len(core_pool[family])), replace=False)
        candidates = np.setdiff1d(np.concatenate([optional_pool[family], consumables]), core)
        n_optional = min(int(rng.integers(1, 4)), len(candidates))
        optional = rng.choice(candidates, size=n_optional, replace=False)
        for a in np.sort(core):
            types.append(m)
            articles.append(a)
            quantities.append(1.0 if rng.random() < 0.8 else 2.0)
            cores.append(True)
        for a in np.sort(optional):
            types.append(m)
            articles.append(a)
            quantities.append(float(rng.choice(_OPTIONAL_QUANTITIES)))
            cores.append(False)

    return BillOfMaterials(
        type_names=tuple(name for name, _ in chosen),
        type_family=tuple(family for _, family in chosen),
        bom_type=np.array(types, dtype=np.int64),
        bom_article=np.array(articles, dtype=np.int64),
        bom_quantity=np.array(quantities, dtype=np.float64),
        bom_core=np.array(cores, dtype=bool),
    )


def articles_frame(catalogue: Catalogue, stock_min: np.ndarray, stock_max: np.ndarray) -> pl.DataFrame:
    """The ``articles`` reference table, columns in SPEC section 2 order."""
    return pl.DataFrame({
        "article_id": catalogue.article_id,
        "designation": catalogue.designation,
        "category": np.array(CATEGORIES, dtype=object)[catalogue.category],
        "importance": np.array(IMPORTANCES, dtype=object)[catalogue.importance],
        "unit_cost": catalogue.unit_cost,
        "unit_volume": catalogue.unit_volume,
        "stock_min": stock_min,
        "stock_max": stock_max,
        "lead_time_days": catalogue.lead_time_days,
        "lot_size": catalogue.lot_size,
        "active": catalogue.active,
    }, schema={
        "article_id": pl.String, "designation": pl.String, "category": pl.String,
        "importance": pl.String, "unit_cost": pl.Float64, "unit_volume": pl.Float64,
        "stock_min": pl.Int64, "stock_max": pl.Int64, "lead_time_days": pl.Int64,
        "lot_size": pl.Int64, "active": pl.Boolean,
    })
