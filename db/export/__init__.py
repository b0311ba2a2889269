"""Storage side of exports: chunked row streams per exportable table and the scheduled-export run ledger."""
