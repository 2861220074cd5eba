-- Change rows.
UPDATE raw.stock_levels SET quantity_on_hand = 0
