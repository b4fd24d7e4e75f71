"""Getting text and tags out of files: file typing, PDF text layers, rasterising, OCR, segmentation, tags."""
