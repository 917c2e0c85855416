"""Bodies by media type: registry (the codecs, Content-Type parsing, Accept negotiation), text (JSON, CSV, JSON
Lines, plain text), arrays (numpy's .npy and .npz)."""
