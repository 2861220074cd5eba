-- Monthly KPIs from the month's daily partitions ($1 = first day, $2 = last day of the month).
-- One row per (site_id, category), per site (category 'ALL'), per category (site_id 'ALL')
-- and overall ('ALL', 'ALL'), through GROUPING SETS.
WITH days AS (
    SELECT i.partition_date, i.site_id, a.category, i.article_id, i.on_hand, i.stock_min
    FROM stock.stock_initial i
    JOIN raw.articles a USING (partition_date, article_id)
    WHERE i.partition_date BETWEEN $1 AND $2
),
shipped AS (
    SELECT k.partition_date, k.site_id, k.category, k.article_id, k.level, k.lots_hi, k.n_min,
           k.quantity, k.volume, k.value, k.quantity * a.unit_cost AS cost
    FROM knapsack.allocation k
    JOIN raw.articles a USING (partition_date, article_id)
    WHERE k.partition_date BETWEEN $1 AND $2
),
limits AS (  -- SPEC §2 defaults: 120 total; FIBRE 50 / CUIVRE 40 unless the site has rows
    SELECT s.partition_date, s.site_id, c.category, c.capacity
    FROM raw.sites s JOIN raw.site_capacities c USING (partition_date, site_id)
    WHERE s.partition_date BETWEEN $1 AND $2
    UNION ALL
    SELECT s.partition_date, s.site_id, d.category, d.capacity
    FROM raw.sites s, (VALUES ('FIBRE', 50.0), ('CUIVRE', 40.0)) d(category, capacity)
    WHERE s.partition_date BETWEEN $1 AND $2
      AND NOT EXISTS (SELECT 1 FROM raw.site_capacities c WHERE c.partition_date = s.partition_date AND c.site_id = s.site_id)
),
solved_days AS (SELECT DISTINCT partition_date, site_id FROM shipped),
capacity AS (
    SELECT l.site_id, l.category, sum(l.capacity) AS capacity
    FROM limits l JOIN solved_days USING (partition_date, site_id) GROUP BY ALL
),
capacity_total AS (
    SELECT s.site_id, sum(coalesce(s.capacity_total, 120.0)) AS capacity
    FROM raw.sites s JOIN solved_days USING (partition_date, site_id) GROUP BY ALL
),
stock_kpis AS (
    SELECT coalesce(site_id, 'ALL') AS site_id, coalesce(category, 'ALL') AS category,
           count(*) AS pair_days,
           count(*) FILTER (WHERE on_hand <= 0) AS stockout_pair_days,
           count(*) FILTER (WHERE on_hand < stock_min) AS below_min_pair_days
    FROM days GROUP BY GROUPING SETS ((site_id, category), (site_id), (category), ())
),
ship_kpis AS (
    SELECT coalesce(site_id, 'ALL') AS site_id, coalesce(category, 'ALL') AS category,
           coalesce(sum(n_min) FILTER (WHERE level = 'CRITIQUE'), 0) AS critical_need_lots,
           coalesce(sum(lots_hi) FILTER (WHERE level = 'CRITIQUE'), 0) AS critical_covered_lots,
           sum(quantity) AS quantity_shipped, sum(volume) AS volume_shipped,
           sum(value) AS value_shipped, sum(cost) AS cost_shipped
    FROM shipped GROUP BY GROUPING SETS ((site_id, category), (site_id), (category), ())
),
capacity_kpis AS (
    SELECT site_id, category, capacity FROM capacity
    UNION ALL SELECT 'ALL', category, sum(capacity) FROM capacity GROUP BY category
    UNION ALL SELECT site_id, 'ALL', capacity FROM capacity_total
    UNION ALL SELECT 'ALL', 'ALL', sum(capacity) FROM capacity_total
)
SELECT $1::DATE AS month, site_id, category,
       s.pair_days, s.stockout_pair_days, s.below_min_pair_days,
       1.0 - s.stockout_pair_days / nullif(s.pair_days, 0) AS service_level,
       k.critical_need_lots, k.critical_covered_lots,
       CASE WHEN k.critical_need_lots > 0 THEN k.critical_covered_lots / k.critical_need_lots END AS critical_coverage,
       k.quantity_shipped, k.volume_shipped, k.value_shipped, k.cost_shipped,
       c.capacity AS capacity_available,
       CASE WHEN c.capacity > 0 THEN k.volume_shipped / c.capacity END AS capacity_use
FROM stock_kpis s
FULL JOIN ship_kpis k USING (site_id, category)
LEFT JOIN capacity_kpis c USING (site_id, category)
ORDER BY site_id, category
