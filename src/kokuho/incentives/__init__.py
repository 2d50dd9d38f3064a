"""保険者努力支援制度 and 調整交付金: rule files per fiscal year, indicators, scoring,
allocation and what-if."""
