"""The Arrow schema of `leadscore gen` leads, shared by the tests and `python/bench/bench.py`."""

import pyarrow as pa

#: The events of `leadscore gen` leads as an Arrow struct: every property the generator writes.
EVENT = pa.struct([
    ("type", pa.string()), ("at", pa.string()), ("path", pa.string()), ("campaign", pa.string()),
    ("video", pa.string()), ("percent", pa.int64()), ("name", pa.string()), ("asset", pa.string()),
    ("form", pa.string()),
])
#: `leadscore gen` writes `company.size` as a number or a numeric string; an Arrow column
#: has one type, so the generated leads hold it as a string, as a warehouse export would.
GEN_SCHEMA = pa.schema([("company", pa.struct([("name", pa.string()), ("size", pa.string())])),
                        ("events", pa.list_(EVENT))])
