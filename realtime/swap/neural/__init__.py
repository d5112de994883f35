"""Neural swappers (inswapper, hyperswap, simswap: ``swapper``), their masks (``masks``), face
selection by identity (``identity``) and the swapper built from the settings (``factory``)."""
