"""Training front-end: Brevitas binarization blocks, models, recipes, trainer."""
