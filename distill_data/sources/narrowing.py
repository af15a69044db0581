"""Narrowing an Arrow table to the (nested) fields a source reads, by name, or refusing it.

Parquet files and Hub datasets type their columns their own way (large strings, all-null columns, extra
fields); a source's conversion wants exactly its parse schema, so a table is narrowed to it, or refused (None)
for the row-by-row reader to name the row that does not fit.
"""

from __future__ import annotations

import pyarrow as pa


def narrow(table: pa.Table, schema: pa.Schema) -> pa.Table | None:
    """``table`` with only the (nested) fields of ``schema``, by name, or None when one is of another type or a
    string is not UTF-8 (the row-by-row reader names the row then). A field the table lacks is null: the
    conversion treats a missing value and a null alike, or refuses the table."""
    columns = []
    for field in schema:
        if field.name in table.column_names:
            column = _narrow(table.column(field.name).combine_chunks(), field.type)
        else:
            column = pa.nulls(table.num_rows, field.type)
        if column is None:
            return None
        columns.append(column)
    narrowed = pa.Table.from_arrays(columns, schema=schema)
    try:
        narrowed.validate(full=True)  # checks, among the rest, that every string is UTF-8
    except pa.ArrowInvalid:
        return None
    return narrowed


def _narrow(array: pa.Array, target: pa.DataType) -> pa.Array | None:
    if array.type == target:
        return array
    if pa.types.is_null(array.type):  # every value null (Parquet and `datasets` type an all-null column so)
        return pa.nulls(len(array), target)
    if pa.types.is_large_string(array.type) and pa.types.is_string(target):
        return array.cast(target)
    if pa.types.is_struct(target) and pa.types.is_struct(array.type):
        children = []
        for field in target:
            if array.type.get_field_index(field.name) < 0:
                children.append(pa.nulls(len(array), field.type))
                continue
            child = _narrow(array.field(field.name), field.type)
            if child is None:
                return None
            children.append(child)
        return pa.StructArray.from_arrays(children, fields=list(target), mask=array.is_null())
    if pa.types.is_list(target) and (pa.types.is_list(array.type) or pa.types.is_large_list(array.type)):
        values = _narrow(array.values, target.value_type)
        if values is None or len(values) > 2**31 - 1:
            return None
        offsets = array.offsets.cast(pa.int32())
        return pa.ListArray.from_arrays(offsets, values, type=target, mask=array.is_null())
    return None
