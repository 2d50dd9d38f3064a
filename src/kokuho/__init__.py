"""kokuho: an open platform for Japan's public health insurance (国民健康保険 and its peers)."""

__version__ = "0.1.0"
