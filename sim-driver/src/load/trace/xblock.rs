//! XBlock-ETH's CSV layouts: transactions, and ERC-20 transfers.

use std::path::Path;

use rustc_hash::FxHashMap;

use super::{Accounting, Interner, Kind, Row, TraceError, address, decimal, open, reasons};

/// One ERC-20 row kept for the join, by transaction hash.
#[derive(Debug, Clone, Copy)]
struct TokenRow {
    token: [u8; 20],
    from: [u8; 20],
    to: [u8; 20],
    value: u128,
    saturated: bool,
    /// Taken by its transaction already.
    taken: bool,
}

/// The ERC-20 file, held by transaction hash to replace the calls it decodes.
pub(super) struct Erc20Join {
    rows: FxHashMap<[u8; 32], TokenRow>,
}

impl Erc20Join {
    /// Reads the ERC-20 file. A second row for one transaction is dropped (named).
    pub(super) fn load(path: &Path, acct: &mut Accounting) -> Result<Erc20Join, TraceError> {
        let mut rows = FxHashMap::default();
        let mut csv = Csv::open(path)?;
        let cols = Erc20Cols::find(&csv)?;
        while csv.next()? {
            acct.rows_read += 1;
            let hash = csv.hash(cols.hash)?;
            let row = cols.token_row(&csv)?;
            match rows.entry(hash) {
                std::collections::hash_map::Entry::Occupied(_) => {
                    acct.drop_row(reasons::ERC20_SECOND_IN_TRANSACTION);
                }
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(row);
                }
            }
        }
        Ok(Erc20Join { rows })
    }

    /// ERC-20 rows no transaction took.
    pub(super) fn unmatched(&self) -> u64 {
        self.rows.values().filter(|r| !r.taken).count() as u64
    }
}

/// A CSV file read row by row, with its header's column positions.
struct Csv {
    path: String,
    reader: csv::Reader<Box<dyn std::io::Read>>,
    header: csv::ByteRecord,
    row: csv::ByteRecord,
    /// The 1-based line the current row starts on.
    line: u64,
}

impl Csv {
    fn open(path: &Path) -> Result<Csv, TraceError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(open(path)?);
        let path = path.display().to_string();
        let header = reader
            .byte_headers()
            .map_err(|e| csv_error(&path, e))?
            .clone();
        Ok(Csv {
            path,
            reader,
            header,
            row: csv::ByteRecord::new(),
            line: 1,
        })
    }

    /// The position of column `name`, if the header has it.
    fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name.as_bytes())
    }

    /// The position of column `name`, or an error naming what the layout needs.
    fn required(&self, name: &str, layout: &str) -> Result<usize, TraceError> {
        self.column(name).ok_or_else(|| TraceError::Layout {
            path: self.path.clone(),
            message: format!(
                "no column `{name}` in the header: a {layout} needs it (header: {})",
                String::from_utf8_lossy(self.header.as_slice())
                    .chars()
                    .take(200)
                    .collect::<String>()
            ),
        })
    }

    /// Reads the next row; false at the end.
    fn next(&mut self) -> Result<bool, TraceError> {
        // Counted here rather than taken from the csv reader's positions, which are
        // off by one on some rows: the header is line 1, each row one more plus any
        // line breaks quoted inside the row before it.
        self.line += 1 + self.row.as_slice().iter().filter(|&&b| b == b'\n').count() as u64;
        self.reader
            .read_byte_record(&mut self.row)
            .map_err(|e| csv_error(&self.path, e))
    }

    fn field(&self, col: usize) -> &[u8] {
        self.row.get(col).unwrap_or(b"")
    }

    /// An optional column's field, empty when the header lacks the column.
    fn optional(&self, col: Option<usize>) -> &[u8] {
        col.map_or(b"", |c| self.field(c))
    }

    /// A malformed-value error at column `col` of the current row.
    fn bad(&self, col: usize, message: impl Into<String>) -> TraceError {
        TraceError::Malformed {
            path: self.path.clone(),
            line: self.line,
            column: format!(
                "column {} (`{}`)",
                col + 1,
                String::from_utf8_lossy(self.header.get(col).unwrap_or(b"?"))
            ),
            message: message.into(),
        }
    }

    fn address(&self, col: usize) -> Result<[u8; 20], TraceError> {
        let text = self.field(col);
        address(text).ok_or_else(|| {
            self.bad(
                col,
                format!(
                    "{:?} is not an address (0x and 40 hex digits)",
                    String::from_utf8_lossy(text)
                ),
            )
        })
    }

    fn hash(&self, col: usize) -> Result<[u8; 32], TraceError> {
        let text = self.field(col);
        let mut out = [0u8; 32];
        text.strip_prefix(b"0x")
            .and_then(|h| const_hex::decode_to_slice(h, &mut out).ok())
            .map(|()| out)
            .ok_or_else(|| {
                self.bad(
                    col,
                    format!(
                        "{:?} is not a transaction hash (0x and 64 hex digits)",
                        String::from_utf8_lossy(text)
                    ),
                )
            })
    }

    /// A decimal value, saturated at u128::MAX (and whether it was).
    fn value(&self, col: usize) -> Result<(u128, bool), TraceError> {
        let text = self.field(col);
        decimal(text).ok_or_else(|| {
            self.bad(
                col,
                format!(
                    "{:?} is not a decimal number",
                    String::from_utf8_lossy(text)
                ),
            )
        })
    }

    fn u64(&self, col: usize) -> Result<u64, TraceError> {
        match self.value(col)? {
            (v, false) if v <= u128::from(u64::MAX) => Ok(v as u64),
            _ => Err(self.bad(col, "too large (more than 2^64 - 1)")),
        }
    }
}

fn csv_error(path: &str, e: csv::Error) -> TraceError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(source) => TraceError::Io {
            path: path.to_string(),
            source,
        },
        kind => TraceError::Malformed {
            path: path.to_string(),
            line,
            column: "row".to_string(),
            message: format!("{kind:?}"),
        },
    }
}

/// Column positions of the ERC-20 layout.
struct Erc20Cols {
    block: usize,
    timestamp: usize,
    hash: usize,
    token: usize,
    from: usize,
    to: usize,
    value: usize,
}

impl Erc20Cols {
    const LAYOUT: &str = "XBlock ERC-20 transfer CSV";

    fn find(csv: &Csv) -> Result<Erc20Cols, TraceError> {
        let r = |n| csv.required(n, Self::LAYOUT);
        Ok(Erc20Cols {
            block: r("blockNumber")?,
            timestamp: r("timestamp")?,
            hash: r("transactionHash")?,
            token: r("tokenAddress")?,
            from: r("from")?,
            to: r("to")?,
            value: r("value")?,
        })
    }

    fn token_row(&self, csv: &Csv) -> Result<TokenRow, TraceError> {
        let (value, saturated) = csv.value(self.value)?;
        Ok(TokenRow {
            token: csv.address(self.token)?,
            from: csv.address(self.from)?,
            to: csv.address(self.to)?,
            value,
            saturated,
            taken: false,
        })
    }
}

/// Column positions of the transaction layout; optional ones may be absent.
struct TxCols {
    block: usize,
    timestamp: usize,
    hash: usize,
    from: usize,
    to: usize,
    value: usize,
    to_create: Option<usize>,
    to_is_contract: Option<usize>,
    gas_limit: Option<usize>,
    gas_used: Option<usize>,
    calling_function: Option<usize>,
    is_error: Option<usize>,
}

impl TxCols {
    const LAYOUT: &str = "XBlock-ETH transaction CSV";

    fn find(csv: &Csv) -> Result<TxCols, TraceError> {
        let r = |n| csv.required(n, Self::LAYOUT);
        Ok(TxCols {
            block: r("blockNumber")?,
            timestamp: r("timestamp")?,
            hash: r("transactionHash")?,
            from: r("from")?,
            to: r("to")?,
            value: r("value")?,
            to_create: csv.column("toCreate"),
            to_is_contract: csv.column("toIsContract"),
            gas_limit: csv.column("gasLimit"),
            gas_used: csv.column("gasUsed"),
            calling_function: csv.column("callingFunction"),
            is_error: csv.column("isError"),
        })
    }
}

/// Reads a CSV trace of either layout (told apart by the header: the ERC-20 layout has
/// `tokenAddress`), handing each replayable row to `sink`.
pub(super) fn read_csv(
    path: &Path,
    gas_cap: u64,
    mut join: Option<&mut Erc20Join>,
    interner: &mut Interner,
    acct: &mut Accounting,
    sink: &mut impl FnMut(Row, &mut Accounting),
) -> Result<(), TraceError> {
    let mut csv = Csv::open(path)?;
    if csv.column("tokenAddress").is_some() {
        let cols = Erc20Cols::find(&csv)?;
        while csv.next()? {
            acct.rows_read += 1;
            let t = cols.token_row(&csv)?;
            acct.values_saturated += u64::from(t.saturated);
            let row = Row {
                block: csv.u64(cols.block)?,
                timestamp: csv.u64(cols.timestamp)?,
                from: interner.id(t.from),
                to: interner.id(t.to),
                kind: Kind::Token,
                token: Some(interner.id(t.token)),
                value: t.value,
                gas: ERC20_TRANSFER_GAS.min(gas_cap),
            };
            sink(row, acct);
        }
        return Ok(());
    }
    let cols = TxCols::find(&csv)?;
    while csv.next()? {
        acct.rows_read += 1;
        let block = csv.u64(cols.block)?;
        let timestamp = csv.u64(cols.timestamp)?;
        let hash = csv.hash(cols.hash)?;
        let sender = csv.address(cols.from)?;
        let to_text = csv.field(cols.to);
        let (value, saturated) = csv.value(cols.value)?;
        let gas_of = |c: Option<usize>| -> Result<Option<u64>, TraceError> {
            match c {
                Some(c) if !csv.field(c).is_empty() => Ok(Some(csv.u64(c)?)),
                _ => Ok(None),
            }
        };
        let gas = gas_of(cols.gas_used)?
            .or(gas_of(cols.gas_limit)?)
            .unwrap_or(TRANSFER_GAS)
            .min(gas_cap);
        if csv.optional(cols.is_error) == b"1" {
            acct.drop_row(reasons::FAILED_ON_CHAIN);
            continue;
        }
        let token = join
            .as_deref_mut()
            .and_then(|j| j.rows.get_mut(&hash))
            .filter(|t| !t.taken);
        let row = if let Some(t) = token {
            t.taken = true;
            acct.erc20_joined += 1;
            acct.values_saturated += u64::from(t.saturated);
            Row {
                block,
                timestamp,
                from: interner.id(t.from),
                to: interner.id(t.to),
                kind: Kind::Token,
                token: Some(interner.id(t.token)),
                value: t.value,
                gas,
            }
        } else {
            acct.values_saturated += u64::from(saturated);
            let from = interner.id(sender);
            let (to, kind) = if to_text.is_empty() {
                // A creation: the new contract's address, or (when the trace does not
                // say) one made from the transaction hash, unique per creation.
                // XBlock writes the new address in `toCreate`; this sample writes the
                // word "create" there instead.
                let created = match cols.to_create.map(|c| address(csv.field(c))) {
                    Some(Some(a)) => a,
                    _ => {
                        let mut a = [0u8; 20];
                        a.copy_from_slice(&hash[..20]);
                        a
                    }
                };
                (interner.id(created), Kind::Create)
            } else {
                let to = interner.id(csv.address(cols.to)?);
                let contract = csv.optional(cols.to_is_contract) == b"1"
                    || !csv.optional(cols.calling_function).is_empty();
                (to, if contract { Kind::Call } else { Kind::Transfer })
            };
            Row {
                block,
                timestamp,
                from,
                to,
                kind,
                token: None,
                value,
                gas,
            }
        };
        sink(row, acct);
    }
    Ok(())
}

/// Gas of a plain value transfer, when the trace gives none.
const TRANSFER_GAS: u64 = 21_000;
/// Gas of an ERC-20 transfer replayed from the ERC-20 file alone (no gas column): a
/// typical OpenZeppelin `transfer` between two existing holders.
const ERC20_TRANSFER_GAS: u64 = 51_000;
