"""Search at 20,000 notices: index build rate and query latency, against SQLite FTS5.

1. Generates 20,000 notices (~800 characters each) from phrase banks, with the kind of
   vocabulary real notices have (villages, projects, people, amounts, dates, document
   numbers), and imports them (`notices import`'s code path).
2. Index build: `search reindex`'s code path (Whoosh, rjieba words, two processes) — notices/s.
3. Queries: a fixed set (single words, several words, a phrase, pinyin, initials, a typo,
   broad ones like 申请 材料), each through the real /search view in-process (parsing, the
   index, ranking, loading the hits, highlighting, the page) — median and p95 ms.
4. Reference: SQLite FTS5 on the same rjieba words (bm25 with the title weighted, snippet()
   for the highlight), the same queries, in the same run — and the ratio.

5. With --postgres URL (an expendable database: it is emptied): the same notices in
   PostgreSQL and the same queries through the PostgreSQL full-text backend (search/pg.py),
   its index rate (documents written as rows) and latency beside Whoosh's.

Targets (issue 5): p95 < 30 ms, within 5× of FTS5, indexing ≥ 1,000 notices/s.
Run: .venv/bin/python bench/search.py [--notices 20000] [--rounds 5] [--postgres URL]
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.booking import pct  # noqa: E402

QUERIES = ["社保卡", "社会保障卡", "微心愿", "高龄津贴", "低保 复核", "医疗保险 缴费", "养老金",
           '"城乡居民基本医疗保险"', "申请 材料", "办理", "东岭村 道路", "耕地 补贴 2025",
           "weixinyuan", "wxy", "shebaoka", "社宝卡", "危房改造", "退役军人 优待证", "垃圾分类 志愿",
           "森林防火", "宅基地 审批", "残疾人 护理补贴", "临时救助 标准", "家庭医生 签约",
           "法律援助", "居住证", "新生儿 出生", "防汛 值班", "村务公开", "青政发 2025"]

VILLAGES = ["东岭", "西河", "南塘", "北坡", "柳湾", "桃园", "杏花", "石桥", "枫林", "麦田", "荷塘",
            "竹溪", "梨树", "槐荫", "松岗", "菱角", "稻香", "青山"]
TOPICS = ["城乡居民基本医疗保险", "城乡居民基本养老保险", "社会保障卡", "最低生活保障", "高龄津贴",
          "耕地地力保护补贴", "农村危房改造", "退役军人优待证", "残疾人护理补贴", "临时救助",
          "生育登记", "家庭医生签约服务", "微心愿", "志愿服务", "垃圾分类", "森林防火", "秸秆禁烧",
          "冬季供暖", "宅基地审批", "居住证", "新生儿出生一件事", "法律援助", "人民调解", "防汛抗旱",
          "农村饮水安全", "乡村道路养护", "村务公开", "集体经济", "高标准农田", "农机购置补贴",
          "稻谷最低收购价", "生猪养殖", "茶叶种植", "电商进村", "文化礼堂", "全民健身", "疫苗接种",
          "困难学生资助", "失业保险金", "创业担保贷款"]
AGENCIES = ["青禾镇人民政府", "青禾镇社会事务办公室", "青禾镇农业农村办公室", "青禾镇退役军人服务站",
            "县医疗保障局", "县人力资源和社会保障局", "县民政局", "县农业农村局", "县卫生健康局",
            "县应急管理局", "县水利局", "县交通运输局", "县教育局", "青禾镇文明办"]
PREFIX = ["青政发", "青政办发", "青农发", "县人社发", "县民发", "县医保发", "县农发", "青文明"]
OPENERS = ["关于做好", "关于开展", "关于印发", "关于进一步加强", "关于调整", "关于公布", "关于推进",
           "关于规范", "关于组织", "关于下达"]
CLOSERS = ["工作的通知", "的实施方案", "有关事项的公告", "的通知", "工作方案", "的指导意见", "专项行动方案",
           "资金的通知", "名单的公示", "考核办法"]
NOUNS = ["道路硬化", "路灯安装", "河道清淤", "桥梁维修", "污水管网", "公厕改造", "文化广场", "卫生室",
         "便民服务站", "养老驿站", "幼儿园", "农贸市场", "光伏电站", "灌溉渠道", "山塘水库", "停车场"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英玉华建国建华志强春梅海燕红梅文斌国庆晓东德明永红学军宝山金凤"
SENTENCES = [
    "为深入贯彻落实{t}相关政策，切实保障群众合法权益，结合本镇实际，现将有关事项通知如下。",
    "各村（社区）要高度重视{t}工作，明确专人负责，做好政策宣传和材料收集。",
    "符合条件的居民可持本人居民身份证、户口簿到户籍所在地村便民服务站或镇政务服务中心办理{t}。",
    "办理时间为工作日上午8:30至12:00，下午14:00至17:30，节假日除外。",
    "对行动不便的老年人、残疾人，村便民服务站提供上门服务和帮办代办。",
    "{t}申请材料经村级初审后报镇政务服务中心复核，复核通过的在村务公开栏公示{n}天。",
    "请各村于{m}月{d}日前将{t}汇总表报送{a}，逾期未报的视为无申报。",
    "镇纪委将对{t}落实情况进行监督检查，对弄虚作假、优亲厚友的严肃追责。",
    "{v}村{p}项目总投资{money}万元，由{name}负责现场管理，预计{m}月底完工。",
    "经{a}研究决定，{year}年度{t}补助标准为每人每月{money}元，从{m}月起执行。",
    "{v}村村民{name}反映的{p}问题，已列入{year}年民生实事项目，限期{n}个工作日内答复。",
    "联系人：{name}，联系电话：0000-{phone}。",
    "本通知自发布之日起施行，原有规定与本通知不一致的，以本通知为准。",
    "{v}村、{v2}村要加强{t}与{t2}的衔接，统筹推进{p}建设。",
    "截至{m}月{d}日，全镇已完成{t}{money}户，完成率{pct}%，{v}村进度较慢，要加快推进。",
    "申请{t}需要提交的材料包括：申请表、居民身份证复印件、户口簿复印件、收入证明及{p}相关证明。",
]


def notice(rng: random.Random, n: int) -> dict:
    topic = rng.choice(TOPICS)

    def fill(sentence: str) -> str:
        return sentence.format(
            t=rng.choice(TOPICS) if rng.random() < 0.3 else topic, t2=rng.choice(TOPICS),
            a=rng.choice(AGENCIES), v=rng.choice(VILLAGES), v2=rng.choice(VILLAGES),
            p=rng.choice(NOUNS), n=rng.randint(3, 30), m=rng.randint(1, 12), d=rng.randint(1, 28),
            year=rng.randint(2019, 2026), money=rng.randint(3, 9999), pct=rng.randint(10, 99),
            phone=rng.randint(10000000, 99999999),
            name=rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.randint(1, 2))))

    year = rng.randint(2019, 2026)
    body = "\n".join(fill(rng.choice(SENTENCES)) for _ in range(rng.randint(12, 22)))
    return {"title": f"{rng.choice(OPENERS)}{year}年度{rng.choice(VILLAGES) + '村' if rng.random() < .3 else ''}"
                     f"{topic}{rng.choice(CLOSERS)}",
            "doc_number": f"{rng.choice(PREFIX)}〔{year}〕{rng.randint(1, 120)}号",
            "agency": rng.choice(AGENCIES), "category": topic[:4],
            "published_at": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "body": body}


def build(data_dir: Path, count: int, database_url: str | None = None) -> tuple:
    import os
    os.environ["PORTAL_DATA_DIR"] = str(data_dir)
    config = {"RATELIMIT_ENABLED": False, "TESTING": True}
    if database_url:
        from sqlalchemy import create_engine, text
        engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        config["DATABASE_URL"] = database_url
    subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT,
                   check=True, capture_output=True,
                   env={**os.environ, **({"DATABASE_URL": database_url} if database_url else {})})
    from portal import create_app
    from portal.booking.catalogue import load_catalogue
    from portal.notices.importer import import_lines
    from portal.notices.models import Notice
    from portal.search import service
    app = create_app(config)
    rng = random.Random(20)
    lines = [json.dumps(notice(rng, n), ensure_ascii=False) for n in range(count)]
    chars = sum(len(json.loads(line)["body"]) for line in lines[:1000]) / 1000
    with app.app_context():
        load_catalogue()
        started = time.perf_counter()
        outcome = import_lines(lines)
        imported = time.perf_counter() - started
        started = time.perf_counter()
        indexed = service.reindex()
        rate = indexed / (time.perf_counter() - started)
        service.drain()
        rows = [(n.id, n.title, n.body) for n in app.extensions["sqlalchemy"].session.query(Notice)]
    print(f"{len(outcome.imported):,} notices, ~{chars:.0f} characters each; imported to the "
          f"database in {imported:.1f} s")
    with app.app_context():
        kind = service.backend()
    print(f"index build (search reindex, {kind}, rjieba"
          f"{', 2 processes' if kind == 'whoosh' else ', rows in one transaction'}): "
          f"{indexed:,} documents, {rate:,.0f} documents/s")
    return app, rows, rate


def whoosh_times(app, rounds: int) -> dict[str, list[float]]:
    client = app.test_client()
    for q in QUERIES:  # warm up: lexicon, searchers, caches
        assert client.get("/search", query_string={"q": q}).status_code == 200
    times: dict[str, list[float]] = {q: [] for q in QUERIES}
    for _ in range(rounds):
        for q in QUERIES:
            started = time.perf_counter()
            response = client.get("/search", query_string={"q": q})
            times[q].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    return times


def fts5(rows, rounds: int) -> tuple[float, dict[str, list[float]]]:
    """SQLite FTS5 over the same rjieba words, the same queries (words ANDed, a phrase kept)."""
    from portal.search.analysis import words
    from portal.search.query import parse
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE notices(id INTEGER PRIMARY KEY, title TEXT, body TEXT)")
    db.execute("CREATE VIRTUAL TABLE fts USING fts5(title, body, tokenize='unicode61')")
    db.executemany("INSERT INTO notices VALUES (?, ?, ?)", rows)
    started = time.perf_counter()
    db.executemany("INSERT INTO fts(rowid, title, body) VALUES (?, ?, ?)",
                   ((i, " ".join(words(t)), " ".join(words(b))) for i, t, b in rows))
    db.commit()
    rate = len(rows) / (time.perf_counter() - started)

    def search(q: str):
        parsed = parse(q)
        terms = [('"' + " ".join(p.words) + '"') for p in parsed.parts]
        if not terms:
            return []
        found = db.execute(
            "SELECT rowid, snippet(fts, 1, '<mark>', '</mark>', '…', 24) FROM fts "
            "WHERE fts MATCH ? ORDER BY bm25(fts, 4.0, 1.0) LIMIT 10", (" AND ".join(terms),)).fetchall()
        titles = dict(db.execute(f"SELECT id, title FROM notices WHERE id IN "
                                 f"({','.join('?' * len(found))})", [r[0] for r in found]).fetchall()) \
            if found else {}
        return [(titles[r[0]], r[1]) for r in found]

    for q in QUERIES:
        search(q)
    times: dict[str, list[float]] = {q: [] for q in QUERIES}
    for _ in range(rounds):
        for q in QUERIES:
            started = time.perf_counter()
            search(q)
            times[q].append((time.perf_counter() - started) * 1000)
    return rate, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5, help="times each query is timed")
    parser.add_argument("--postgres", help="also the PostgreSQL backend, in this (emptied) database")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="tongban-search-"))
    try:
        app, rows, whoosh_rate = build(data_dir, args.notices)
        with app.app_context():
            whoosh = whoosh_times(app, args.rounds)
        fts_rate, reference = fts5(rows, args.rounds)
        all_w = [t for ts in whoosh.values() for t in ts]
        all_f = [t for ts in reference.values() for t in ts]
        print(f"\n{len(QUERIES)} queries × {args.rounds}        /search view (Whoosh)   FTS5 reference")
        print(f"median ms                      {statistics.median(all_w):10.2f} {statistics.median(all_f):14.2f}")
        print(f"p95 ms                         {pct(all_w, .95):10.2f} {pct(all_f, .95):14.2f}")
        print(f"slowest query (median ms)      {max(statistics.median(v) for v in whoosh.values()):10.2f}"
              f" {max(statistics.median(v) for v in reference.values()):14.2f}")
        ratio = pct(all_w, .95) / pct(all_f, .95)
        print(f"p95 ratio /search : FTS5        {ratio:.1f}×")
        print(f"FTS5 index build: {fts_rate:,.0f} documents/s (words cut beforehand)")
        worst = sorted(whoosh.items(), key=lambda kv: -statistics.median(kv[1]))[:5]
        print("slowest queries through /search (median ms): " +
              ", ".join(f"{q} {statistics.median(v):.1f}" for q, v in worst))
        if args.postgres:
            pg_app, _rows, pg_rate = build(data_dir / "pg", args.notices, args.postgres)
            with pg_app.app_context():
                pg_times = whoosh_times(pg_app, args.rounds)
            all_p = [t for ts in pg_times.values() for t in ts]
            print(f"\n/search view, PostgreSQL backend: median {statistics.median(all_p):.2f} ms, "
                  f"p95 {pct(all_p, .95):.2f} ms (Whoosh {statistics.median(all_w):.2f} / "
                  f"{pct(all_w, .95):.2f}); index rate {pg_rate:,.0f}/s (Whoosh {whoosh_rate:,.0f}/s)")
            worst = sorted(pg_times.items(), key=lambda kv: -statistics.median(kv[1]))[:5]
            print("slowest on PostgreSQL (median ms): " +
                  ", ".join(f"{q} {statistics.median(v):.1f}" for q, v in worst))
        print("\ntargets: p95 < 30 ms: {}; within 5× of FTS5: {}; indexing ≥ 1,000/s: {}".format(
            "met" if pct(all_w, .95) < 30 else "MISSED", "met" if ratio <= 5 else "MISSED",
            "met" if whoosh_rate >= 1000 else "MISSED"))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
