use std::io::Write;
use std::path::PathBuf;

use super::stats::StatsBuilder;
use super::*;

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data/ethereum-sample")
        .join(name)
}

fn files(path: PathBuf, erc20: Option<PathBuf>) -> TraceFiles {
    TraceFiles {
        path,
        erc20,
        gas_cap: 1_000_000,
    }
}

fn read_all(f: &TraceFiles) -> Result<(Vec<Row>, Accounting), TraceError> {
    let mut rows = Vec::new();
    let acct = read(f, |r| rows.push(r))?;
    Ok((rows, acct))
}

#[test]
fn the_sample_is_read_whole_and_every_row_accounted_for() {
    let (rows, acct) = read_all(&files(
        sample("transactions.csv.gz"),
        Some(sample("erc20-transfers.csv.gz")),
    ))
    .unwrap();
    assert_eq!(acct.rows_read, 18_938 + 2_224);
    assert_eq!(
        acct.rows_read,
        acct.replayed_total() + acct.dropped_total() + acct.erc20_joined
    );
    assert_eq!(rows.len() as u64, acct.replayed_total());
    assert_eq!(acct.replayed["token"], acct.erc20_joined);
    assert!(acct.erc20_joined > 2_000, "{acct:?}");
    assert!(acct.replayed["call"] > 2_000 && acct.replayed["transfer"] > 10_000);
    assert!(acct.accounts > 20_000);
    // Block order, and a token transfer's ends are holders with the token beside them.
    assert!(rows.windows(2).all(|w| w[0].block <= w[1].block));
    let t = rows.iter().find(|r| r.kind == Kind::Token).unwrap();
    assert!(t.token.is_some() && t.token != Some(t.to));
    assert!(rows.iter().all(|r| r.gas <= 1_000_000 && r.gas > 0));
}

#[test]
fn the_erc20_file_alone_replays_token_transfers() {
    let (rows, acct) = read_all(&files(sample("erc20-transfers.csv.gz"), None)).unwrap();
    assert_eq!(rows.len(), 2_224);
    assert_eq!(acct.replayed["token"], 2_224);
}

#[test]
fn json_rpc_blocks_are_read_in_block_order_with_tokens_decoded() {
    let (rows, acct) = read_all(&files(sample("blocks"), None)).unwrap();
    assert_eq!(acct.rows_read, rows.len() as u64);
    let blocks: Vec<u64> = rows.iter().map(|r| r.block).collect();
    assert!(blocks.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(blocks.first(), Some(&12_965_000));
    assert!(acct.replayed["token"] > 0 && acct.replayed["call"] > 0);
    // One block alone reads the same rows as its part of the directory.
    let (one, _) = read_all(&files(sample("blocks/15537394.json.gz"), None)).unwrap();
    assert_eq!(
        one.len(),
        rows.iter().filter(|r| r.block == 15_537_394).count()
    );
}

#[test]
fn the_same_transactions_in_csv_and_json_replay_alike() {
    // The three JSON-RPC blocks are also in the CSV: the same kinds come out of both
    // readers (tokens decoded from call data versus joined from the ERC-20 file).
    let (json, _) = read_all(&files(sample("blocks"), None)).unwrap();
    let (csv, _) = read_all(&files(
        sample("transactions.csv.gz"),
        Some(sample("erc20-transfers.csv.gz")),
    ))
    .unwrap();
    for block in [12_965_000, 15_537_394, 17_034_870] {
        let kinds = |rows: &[Row]| {
            let mut k: Vec<Kind> = rows
                .iter()
                .filter(|r| r.block == block)
                .map(|r| r.kind)
                .collect();
            k.sort();
            k
        };
        let (j, c) = (kinds(&json), kinds(&csv));
        assert_eq!(j.len(), c.len(), "block {block}");
        let tokens = |k: &[Kind]| k.iter().filter(|&&k| k == Kind::Token).count();
        assert_eq!(tokens(&j), tokens(&c), "block {block}");
    }
}

fn temp_csv(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    (dir, path)
}

const A: &str = "0x00000000000000000000000000000000000000aa";
const B: &str = "0x00000000000000000000000000000000000000bb";
const H: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";

#[test]
fn columns_are_found_by_name_in_any_order() {
    let (_d, path) = temp_csv(&format!(
        "value,extra,to,from,transactionHash,timestamp,blockNumber,isError\n\
         5,x,{B},{A},{H},100,7,0\n\
         5,x,{A},{B},{H},100,7,1\n"
    ));
    let (rows, acct) = read_all(&files(path, None)).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].from, rows[0].to, rows[0].kind),
        (0, 1, Kind::Transfer)
    );
    assert_eq!(rows[0].value, 5);
    assert_eq!(acct.dropped[reasons::FAILED_ON_CHAIN], 1);
    assert_eq!(acct.rows_read, 2);
}

#[test]
fn a_malformed_row_names_its_file_line_and_column() {
    let (_d, path) = temp_csv(&format!(
        "blockNumber,timestamp,transactionHash,from,to,value\n\
         7,100,{H},{A},{B},5\n\
         7,100,{H},{A},0xnothex,5\n"
    ));
    let err = read_all(&files(path.clone(), None))
        .unwrap_err()
        .to_string();
    let want = format!("{}:3: column 5 (`to`):", path.display());
    assert!(err.starts_with(&want), "{err}");
    assert!(err.contains("not an address"), "{err}");

    let (_d, path) = temp_csv(&format!(
        "blockNumber,timestamp,transactionHash,from,to,value\n7,100,{H},{A},{B},-5\n"
    ));
    let err = read_all(&files(path, None)).unwrap_err().to_string();
    assert!(
        err.contains(":2: column 6 (`value`)") && err.contains("decimal"),
        "{err}"
    );
}

#[test]
fn a_file_of_another_layout_is_refused_naming_the_column() {
    let (_d, path) = temp_csv("a,b\n1,2\n");
    let err = read_all(&files(path, None)).unwrap_err().to_string();
    assert!(err.contains("no column `blockNumber`"), "{err}");
}

#[test]
fn a_block_of_hashes_only_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("9.json");
    std::fs::write(
        &path,
        format!(r#"{{"result":{{"number":"0x9","timestamp":"0x1","transactions":["{H}"]}}}}"#),
    )
    .unwrap();
    let err = read_all(&files(path.clone(), None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("full transactions"), "{err}");
    std::fs::write(&path, "{\"number\": 0x9").unwrap();
    let err = read_all(&files(path, None)).unwrap_err().to_string();
    assert!(err.contains(":1: column"), "{err}");
}

#[test]
fn token_call_data_decodes_and_other_calls_do_not() {
    let holder = [0xaa; 20];
    let mut input = vec![0xa9, 0x05, 0x9c, 0xbb];
    input.extend([0u8; 12]);
    input.extend([0xbb; 20]);
    let mut amount = [0u8; 32];
    amount[31] = 9;
    input.extend(amount);
    assert_eq!(
        rpc_decode(&input, holder),
        Some((holder, [0xbb; 20], 9, false))
    );
    input[0] = 0;
    assert_eq!(rpc_decode(&input, holder), None);
}

fn rpc_decode(input: &[u8], sender: [u8; 20]) -> Option<([u8; 20], [u8; 20], u128, bool)> {
    super::rpc::decode_token_transfer(input, sender)
}

#[test]
fn the_samples_figures_are_what_its_readme_says() {
    let f = files(sample("transactions.csv.gz"), None);
    let mut b = StatsBuilder::default();
    let acct = read(&f, |r| b.add(&r)).unwrap();
    let s = b.finish(Some(acct));
    assert_eq!(s.transactions, 18_938);
    assert!((20_000..21_500).contains(&s.accounts), "{}", s.accounts);
    assert!((0.27..0.31).contains(&s.contract_call_share), "{s}");
    assert!((0.35..0.41).contains(&s.top_recipient_share[1]), "{s}");
    assert!((0.50..0.56).contains(&s.top_recipient_share[2]), "{s}");
    let cross: Vec<f64> = s.hash_cross_share.iter().map(|c| c.1).collect();
    assert!((0.70..0.78).contains(&cross[0]) && cross[2] > 0.95, "{s}");
}

mod hostile {
    use super::*;
    use proptest::prelude::*;

    const HEADER: &str =
        "blockNumber,timestamp,transactionHash,from,to,value,toIsContract,gasUsed\n";

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Whatever bytes follow a valid header, the reader answers with rows or with an
        /// error naming a line — it never panics.
        #[test]
        fn any_bytes_after_the_header_are_rows_or_a_named_error(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("t.csv");
            let mut bytes = HEADER.as_bytes().to_vec();
            bytes.extend(&body);
            std::fs::write(&path, &bytes).unwrap();
            match read_all(&files(path.clone(), None)) {
                Ok((rows, acct)) => prop_assert_eq!(rows.len() as u64, acct.replayed_total()),
                Err(e) => prop_assert!(e.to_string().starts_with(&path.display().to_string()), "{}", e),
            }
        }

        /// A valid row with one field replaced by junk is refused naming that column.
        #[test]
        fn a_corrupted_field_is_named(col in 0usize..6, junk in "[a-z!@#]{1,8}") {
            let mut fields = ["7", "100", H, A, B, "5"];
            fields[col] = &junk;
            let (_d, path) = temp_csv(&format!(
                "blockNumber,timestamp,transactionHash,from,to,value\n{}\n",
                fields.join(",")
            ));
            let err = read_all(&files(path, None)).unwrap_err().to_string();
            let name = ["blockNumber", "timestamp", "transactionHash", "from", "to", "value"][col];
            let want = format!(":2: column {} (`{name}`)", col + 1);
            prop_assert!(err.contains(&want), "{}", err);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// A JSON-RPC block with any fields replaced by arbitrary JSON values is read or
        /// refused with its file named — never a panic.
        #[test]
        fn any_json_block_is_rows_or_a_named_error(
            number in prop_oneof![Just("\"0x9\"".to_string()), "[0-9a-z\"]{0,6}"],
            to in prop_oneof![Just(format!("\"{B}\"")), Just("null".to_string()), "[0-9a-z\"]{0,6}"],
            value in prop_oneof![Just("\"0x10\"".to_string()), "[0-9a-z\"x]{0,40}"],
            input in prop_oneof![Just("\"0x\"".to_string()), "\"0x[0-9a-f]{0,200}\""],
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("9.json");
            let tx = format!(
                r#"{{"hash":"{H}","from":"{A}","to":{to},"value":{value},"gas":"0x5208","input":{input}}}"#
            );
            std::fs::write(
                &path,
                format!(r#"{{"number":{number},"timestamp":"0x1","transactions":[{tx}]}}"#),
            )
            .unwrap();
            match read_all(&files(path.clone(), None)) {
                Ok((rows, acct)) => prop_assert_eq!(rows.len() as u64, acct.replayed_total()),
                Err(e) => prop_assert!(e.to_string().starts_with(&path.display().to_string()), "{}", e),
            }
        }
    }

    #[test]
    fn a_truncated_gzip_is_an_error_not_a_panic() {
        let whole = std::fs::read(sample("erc20-transfers.csv.gz")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.csv.gz");
        std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
        let err = read_all(&files(path.clone(), None))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
    }
}
