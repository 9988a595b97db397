"""The demo district's people and enterprises, and the records their source departments push (generated).

`demo_world(anchor)` builds about 300 people in households (most registered in Nanhai, some from
elsewhere with a residence permit) and 80 enterprises (companies and individual businesses) whose legal
representatives are among those people, then the batches of records each source department pushes:
one batch per catalog item, a few changes (变更) and a few revocations (注销).

Decisions:
- Deterministic: one seeded `random.Random`, and every date and time counted from `anchor` (the moment
  the demo was first loaded). The same anchor gives byte-identical batches, so a re-run sends the same
  Idempotency-Key with the same digest and the push service replays the first answer.
- Valid identifiers: ID numbers use area codes that python-stdnum's data knows for the birth year (a
  Nanhai native born in 1986 has 440622, the 南海县 of that time), real birth dates, the sex digit and a
  GB 11643 check digit; USCCs carry a GB 11714 organization-code check digit and the GB 32100 check digit.
- Three fixed demo applicants (`DEMO_APPLICANTS`) come first and never change with the random part, so
  the README can name them: a tester logs in through WeChat, verifies with one of these pairs (the
  development verifier accepts any valid ID number) and sees that person's records and enterprise.
- Most records are produced a few hours before the anchor (on time); a few are older (late); a few
  licenses are expired by the anchor date.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, Literal

from stdnum import numdb
from stdnum.cn import ric, uscc

from backend.clock import SHANGHAI
from backend.demo_catalog import CATALOG

SEED = 20260302
PEOPLE = 300
COMPANIES = 60
INDIVIDUAL_BUSINESSES = 20
# Part of every Idempotency-Key: change it whenever the generator changes, so that a database loaded by
# the old generator gets the new batches instead of a digest mismatch.
KEY_PREFIX = "demo-v1"

SOURCE_OF = {spec["code"]: spec["source_department"] for spec in CATALOG}

# --- the fixed demo applicants ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoApplicant:
    """A demo person a tester can log in as (any WeChat code, then this name and ID number)."""

    name: str
    id_number: str
    about: str


ZHIMING = DemoApplicant("陈志明", "440622198605140137",
                        "南海户籍，已婚；佛山市南海区志明五金制品有限公司法定代表人；有不动产权证书、社保参保证明")
LIHUA = DemoApplicant("黄丽华", "440622198909210245",
                      "陈志明的配偶；佛山市南海区丽华餐饮管理有限公司法定代表人（持食品经营许可证）；育有一子")
XIUYING = DemoApplicant("李秀英", "430421198802170467",
                        "湖南衡阳人，持广东省居住证；个体工商户“佛山市南海区大沥秀英士多店”经营者")
DEMO_APPLICANTS = (ZHIMING, LIHUA, XIUYING)

# --- names, places and trades -----------------------------------------------------------------------------

# Common surnames, weighted as in the Pearl River Delta.
SURNAMES = {
    "陈": 12, "黄": 9, "梁": 8, "李": 8, "何": 6, "罗": 5, "张": 5, "林": 5, "刘": 4, "周": 4, "吴": 4, "郭": 3,
    "谢": 3, "冯": 3, "潘": 3, "邓": 3, "麦": 3, "叶": 3, "王": 3, "关": 2, "区": 2, "钟": 2, "卢": 2, "伍": 2,
    "杜": 2, "杨": 2, "朱": 2, "曾": 2, "苏": 2, "蔡": 2, "邝": 1, "岑": 1, "简": 1, "霍": 1, "劳": 1, "植": 1,
}
# Given names by birth cohort (before 1975, 1975-1995, after 1995) and sex.
GIVEN_NAMES = {
    ("男", 0): ["国强", "建华", "志强", "伟明", "耀明", "锦荣", "炳坤", "润生", "兆基", "永安", "德华", "汉文", "伟",
               "强"],
    ("女", 0): ["秀英", "桂芳", "玉珍", "淑贞", "凤英", "丽娟", "惠芳", "少芬", "美玲", "月娥", "玉兰", "妹", "燕"],
    ("男", 1): ["志明", "伟强", "家豪", "俊杰", "文辉", "振华", "嘉伟", "锦辉", "子健", "国华", "晓峰", "卓文", "斌",
               "杰", "永康", "家明"],
    ("女", 1): ["丽华", "慧敏", "嘉欣", "咏诗", "佩珊", "婉婷", "晓琳", "美仪", "雪梅", "凤仪", "敏仪", "丽娜", "敏",
               "静", "颖", "婷"],
    ("男", 2): ["浩然", "梓轩", "宇航", "嘉俊", "明轩", "子豪", "俊熙", "浩宇", "睿哲", "一鸣", "梓豪", "宇轩", "卓然"],
    ("女", 2): ["梓涵", "诗琪", "紫琳", "雅琪", "晓彤", "欣怡", "子晴", "可欣", "思彤", "语桐", "梓晴", "芷晴", "心怡"],
}

# Town (镇街) → roads, housing estates and villages/communities.
TOWNS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "桂城街道": (["南海大道北", "桂澜北路", "海八路", "灯湖东路", "南桂东路", "桂平西路"],
             ["金沙湾花园", "怡翠花园", "保利花园", "万科金色家园", "海逸桂苑"], ["叠滘社区", "夏北社区", "平东社区"]),
    "大沥镇": (["广佛路", "建设大道", "沿江路", "黄岐广佛路", "穗盐路"],
            ["颐景园", "凯德天府", "锦绣花园", "雅瑶新城"], ["凤池社区", "钟边社区", "太平社区", "水头社区"]),
    "里水镇": (["里水大道中", "和顺大道", "沿江北路"], ["万科城", "里水新城花园", "梦里水乡花园"],
            ["大冲村", "洲村", "赤山村", "和顺社区"]),
    "狮山镇": (["狮山大道", "博爱中路", "罗村大道", "小塘三环路"], ["博爱湖花园", "狮山碧桂园", "罗村华庭"],
            ["官窑社区", "松岗社区", "罗村社区", "小塘社区"]),
    "西樵镇": (["樵园路", "西樵大道", "官山大道"], ["樵山雅苑", "听音湖花园"], ["简村村", "民乐社区", "西岸村"]),
    "九江镇": (["九江大道", "儒林路", "沙头大道"], ["儒林花园", "江景华庭"], ["沙头社区", "烟南村", "南金村"]),
    "丹灶镇": (["丹灶大道", "金沙大道", "桂丹路"], ["丹灶新城", "金沙雅苑"], ["仙岗村", "罗行社区", "金沙社区"]),
}
INDUSTRIAL_PARKS = {
    "桂城街道": "瀚天科技城", "大沥镇": "太平工业区", "里水镇": "和顺工业区", "狮山镇": "狮山科技工业园",
    "西樵镇": "西樵科技园", "九江镇": "沙头工业区", "丹灶镇": "国家生态工业示范园区",
}
NANHAI = "广东省佛山市南海区"

# Where the residents who are not registered in Nanhai come from: a name and area-code prefixes over time.
ORIGINS = [
    ("湖南衡阳", ("4304",)), ("广西玉林", ("4509", "4525")), ("四川南充", ("5113", "5129")),
    ("江西赣州", ("3607", "3621")), ("湖北黄冈", ("4211", "4221")), ("广东梅州", ("4414",)),
    ("广东湛江", ("4408",)), ("河南信阳", ("4115", "4127")),
]
NANHAI_PREFIXES = ("4406", "4427")

TRADE_NAMES = [
    "华创", "锦辉", "宏达", "粤盛", "联丰", "鸿业", "恒泰", "永利", "金铭", "顺盈", "嘉禾", "南雅", "佳美", "和利",
    "协力", "富华", "创辉", "荣兴", "明记", "广源", "俊达", "晟通", "瑞丰", "凯泓", "信诚", "德昌", "骏丰", "泓景",
    "新科", "立信", "汇达", "盛世", "百川", "益丰", "宝源", "兴业", "志成", "天翔", "汇邦", "誉达", "力拓", "康泰",
    "建兴", "旭日", "海澜", "长盈", "聚贤", "丰泽", "华泰", "合昌", "金沙", "樵山", "桂澜", "千灯", "大沥", "里湖",
    "新泰", "卓越", "启明", "万隆", "东成", "利来", "鑫源", "昌盛",
]


@dataclass(frozen=True)
class Trade:
    """A line of business: the end of the name, the business scope and the food license it needs, if any."""

    suffix: str
    scope: str
    food_form: str | None = None  # 主体业态 of its food business license, if it needs one
    food_items: str = ""


FOOD_SALES = "预包装食品（含冷藏冷冻食品）销售；散装食品（含冷藏冷冻食品）销售"
CATERING = "热食类食品制售；冷食类食品制售（含烧腊熟食）；自制饮品制售"
COMPANY_TRADES = [
    Trade("五金制品有限公司", "生产、销售：五金制品、不锈钢制品、建筑五金；货物进出口。"),
    Trade("铝材有限公司", "生产、加工、销售：铝型材、铝合金门窗；金属表面处理。"),
    Trade("纺织有限公司", "织造、印染、销售：纺织面料、针织品；服装加工。"),
    Trade("家具有限公司", "生产、销售：家具、木制品；室内装饰设计。"),
    Trade("电子科技有限公司", "研发、生产、销售：电子元器件、智能控制器；软件开发。"),
    Trade("物流有限公司", "普通货物道路运输；仓储服务（不含危险化学品）；装卸搬运。"),
    Trade("陶瓷有限公司", "生产、销售：建筑陶瓷、卫生陶瓷；陶瓷原料。"),
    Trade("包装材料有限公司", "生产、销售：纸箱、塑料包装材料；包装装潢印刷。"),
    Trade("内衣有限公司", "生产、销售：内衣、服装、针织品；服装设计。"),
    Trade("机械设备有限公司", "生产、销售、维修：通用机械设备、五金工具；机械设备租赁。"),
    Trade("汽车配件有限公司", "生产、销售：汽车零部件及配件；汽车维修技术咨询。"),
    Trade("餐饮管理有限公司", "餐饮服务；餐饮管理；食品销售；会议及展览服务。", "餐饮服务经营者", CATERING),
    Trade("食品贸易有限公司", "食品销售；农副产品销售；食品进出口。", "食品销售经营者", FOOD_SALES),
    Trade("食品有限公司", "糕点、饼干生产；食品销售；农副产品收购。", "食品销售经营者", FOOD_SALES),
]
SHOP_TRADES = [
    Trade("士多店", "预包装食品、日用百货零售。", "食品销售经营者", FOOD_SALES),
    Trade("烧腊店", "熟食制售；餐饮服务。", "餐饮服务经营者", CATERING),
    Trade("茶餐厅", "餐饮服务。", "餐饮服务经营者", CATERING),
    Trade("水果店", "水果、农副产品零售。", "食品销售经营者", FOOD_SALES),
    Trade("粮油店", "粮油、预包装食品零售。", "食品销售经营者", FOOD_SALES),
    Trade("五金店", "五金、水暖器材零售。"),
    Trade("理发店", "理发服务。"),
    Trade("服装店", "服装、鞋帽零售。"),
]
HOSPITALS = ["佛山市南海区人民医院", "佛山市南海区妇幼保健院", "佛山市第一人民医院", "佛山市南海区第四人民医院",
             "佛山市南海区第二人民医院"]
DISABILITIES = ["视力残疾", "听力残疾", "言语残疾", "肢体残疾", "智力残疾", "精神残疾", "多重残疾"]
TAX_TYPES = ["增值税、企业所得税、城市维护建设税", "增值税、企业所得税、城市维护建设税、印花税",
             "增值税、个人所得税（代扣代缴）"]
PERSONAL_INSURANCE = "企业职工基本养老保险、职工基本医疗保险、失业保险、工伤保险"
EMPLOYER_INSURANCE = "养老保险、医疗保险、失业保险、工伤保险、生育保险"

POLICE = "佛山市公安局南海分局"
CIVIL_AFFAIRS = "佛山市南海区民政局"
MARKET_REGULATION = "佛山市南海区市场监督管理局"


# --- identifiers ------------------------------------------------------------------------------------------

@cache
def _county(code: str) -> dict[str, str]:
    return {k: v for _, props in numdb.get("cn/loc").info(code) for k, v in props.items()}


@cache
def _area_codes(prefixes: tuple[str, ...], year: int, county_contains: str = "") -> tuple[str, ...]:
    """County codes under the prefixes that stdnum's data knows for that birth year (no 市辖区)."""
    found = []
    for prefix in prefixes:
        for number in range(1, 100):
            code = f"{prefix}{number:02d}"
            county = _county(code).get("county", "")
            if not county or "市辖区" in county or county_contains not in county:
                continue
            try:
                ric.get_birth_place(f"{code}{year}0101000")
            except Exception:  # stdnum: not a county in that year
                continue
            found.append(code)
    return tuple(found)


def county_name(id_number: str) -> str:
    """The county an ID number names, as stdnum's data calls it for the birth year."""
    return ric.get_birth_place(id_number)["county"]


def org_code_check(code8: str) -> str:
    """GB 11714 check character of an 8-character organization code."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(code8, weights, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


_USCC_LETTERS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


# --- the world --------------------------------------------------------------------------------------------

@dataclass(eq=False)
class Household:
    """A household registered in Nanhai (户口簿)."""

    number: str
    address: str
    registered_on: date


@dataclass(eq=False)
class Person:
    """A demo person and what the departments know of them."""

    id_number: str
    name: str
    gender: str
    birth_date: date
    ethnicity: str
    address: str
    local: bool  # household registered in Nanhai; otherwise a resident holding a residence permit
    native_place: str
    household: Household | None = None
    relation: str = "户主"
    registered_on: date | None = None
    spouse: Person | None = None
    married_on: date | None = None
    marriage_cert_no: str | None = None
    divorced_on: date | None = None
    mother: Person | None = None
    father: Person | None = None
    employer: Enterprise | None = None
    members: list[Person] = field(default_factory=list)  # the household, on its householder


@dataclass(eq=False)
class Enterprise:
    """A demo company or individual business (个体工商户), its legal representative one of the people."""

    uscc: str
    name: str
    individual: bool  # 个体工商户
    trade: Trade
    entity_type: str
    legal_rep: Person
    established_on: date
    address: str
    registration_no: str
    capital: float | None = None
    employees: list[Person] = field(default_factory=list)


@dataclass(frozen=True)
class Batch:
    """One request of a source department: records of one catalog item, under one Idempotency-Key."""

    operation: Literal["push", "revoke"]
    item: str
    department: str
    key: str
    records: list[dict[str, Any]]

    @property
    def digest(self) -> str:
        """SHA-256 of the batch as JSON: a changed batch under a used key is a mismatch, not a silent replay."""
        body = json.dumps({"operation": self.operation, "records": self.records}, ensure_ascii=False,
                          sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass
class DemoWorld:
    """The generated people and enterprises, and the batches that load their records, in order."""

    people: list[Person]
    enterprises: list[Enterprise]
    batches: list[Batch]


def demo_world(anchor: datetime) -> DemoWorld:
    """The demo people, enterprises and the batches that load their records, all counted from `anchor`."""
    return _Generator(anchor).build()


class _Generator:
    def __init__(self, anchor: datetime) -> None:
        self.rng = random.Random(SEED)
        self.anchor = anchor
        self.today = anchor.astimezone(SHANGHAI).date()
        self.people: list[Person] = []
        self.enterprises: list[Enterprise] = []
        self.ids: set[str] = set()
        self.names: set[str] = set()
        self.enterprise_names: set[str] = set()
        self.serial = 0

    # -- helpers --

    def _next(self) -> int:
        self.serial += 1
        return self.serial

    def _date_between(self, first: date, last: date) -> date:
        return first + timedelta(days=self.rng.randint(0, max(0, (last - first).days)))

    def _birth_date(self, min_age: int, max_age: int) -> date:
        return self._date_between(_add_years(self.today, -max_age - 1) + timedelta(days=1),
                                  _add_years(self.today, -min_age))

    def _produced_at(self) -> str:
        """Most records were produced a few hours ago (on time); about one in twenty a week or more ago (late)."""
        if self.rng.random() < 0.05:
            ago = timedelta(days=self.rng.randint(6, 20), minutes=self.rng.randint(0, 600))
        else:
            ago = timedelta(minutes=self.rng.randint(5, 8 * 60))
        return (self.anchor - ago).astimezone(SHANGHAI).isoformat(timespec="seconds")

    def _id_number(self, area: str, birth: date, gender: str) -> str:
        while True:
            order = self.rng.randrange(0, 500) * 2 + (1 if gender == "男" else 0)
            body = f"{area}{birth:%Y%m%d}{order:03d}"
            number = body + ric.calc_check_digit(body + "0")
            if number not in self.ids:
                self.ids.add(number)
                return number

    def _area(self, birth: date, origin: tuple[str, tuple[str, ...]] | None) -> str:
        if origin is None:
            return self.rng.choice(_area_codes(NANHAI_PREFIXES, birth.year, "南海"))
        candidates = _area_codes(origin[1], birth.year)
        if not candidates:  # that region had other codes then: fall back to another origin
            candidates = next(c for o in ORIGINS if (c := _area_codes(o[1], birth.year)))
        return self.rng.choice(candidates)

    def _name(self, surname: str, gender: str, birth: date) -> str:
        cohort = 0 if birth.year < 1975 else 1 if birth.year <= 1995 else 2
        for _ in range(20):
            name = surname + self.rng.choice(GIVEN_NAMES[(gender, cohort)])
            if name not in self.names:
                break
        self.names.add(name)
        return name

    def _surname(self) -> str:
        return self.rng.choices(list(SURNAMES), weights=list(SURNAMES.values()))[0]

    def _ethnicity(self, origin: tuple[str, tuple[str, ...]] | None) -> str:
        roll = self.rng.random()
        if origin is not None and origin[0] == "广西玉林" and roll < 0.3:
            return "壮族"
        if origin is not None and origin[0] == "湖南衡阳" and roll < 0.08:
            return self.rng.choice(["瑶族", "土家族"])
        return "汉族" if roll < 0.98 else self.rng.choice(["壮族", "瑶族", "回族"])

    def _home_address(self, town: str) -> str:
        roads, estates, villages = TOWNS[town]
        if self.rng.random() < 0.65:
            return (f"{NANHAI}{town}{self.rng.choice(roads)}{self.rng.randint(1, 300)}号{self.rng.choice(estates)}"
                    f"{self.rng.randint(1, 18)}座{self.rng.randint(2, 32)}{self.rng.randint(1, 6):02d}房")
        return f"{NANHAI}{town}{self.rng.choice(villages)}{self.rng.choice('东南西北中')}街{self.rng.randint(1, 120)}号"

    def _person(self, *, name: str | None = None, id_number: str | None = None, gender: str, birth: date,
                origin: tuple[str, tuple[str, ...]] | None, address: str, surname: str | None = None,
                ethnicity: str | None = None) -> Person:
        if id_number is None:
            id_number = self._id_number(self._area(birth, origin), birth, gender)
        else:
            self.ids.add(id_number)
        if name is None:
            name = self._name(surname or self._surname(), gender, birth)
        else:
            self.names.add(name)
        native = "广东南海" if origin is None else origin[0]
        person = Person(id_number, name, gender, birth, ethnicity or self._ethnicity(origin), address,
                        origin is None, native)
        self.people.append(person)
        return person

    # -- households --

    def _marry(self, a: Person, b: Person, on: date) -> None:
        a.spouse, b.spouse = b, a
        a.married_on = b.married_on = on
        if a.local or b.local:  # registered in Nanhai
            a.marriage_cert_no = b.marriage_cert_no = f"J440605-{on.year}-{self._next():06d}"

    def _child(self, head: Person, spouse: Person | None, birth: date) -> Person:
        father, mother = (head, spouse) if head.gender == "男" else (spouse, head)
        gender = self.rng.choice("男女")
        origin = None if head.local else self._origin_of(head)
        child = self._person(gender=gender, birth=birth, origin=origin, address=head.address,
                             surname=(father or head).name[0], ethnicity=(father or head).ethnicity)
        child.father, child.mother = father, mother
        child.relation = "子" if gender == "男" else "女"
        return child

    def _origin_of(self, person: Person) -> tuple[str, tuple[str, ...]]:
        return next(o for o in ORIGINS if o[0] == person.native_place)

    def _register(self, head: Person, members: list[Person], registered_on: date) -> None:
        if not head.local:
            head.members = members
            return
        household = Household(f"{self.rng.randint(100000000, 999999999)}", head.address, registered_on)
        for member in members:
            member.household = household
            member.registered_on = max(registered_on, member.birth_date + timedelta(days=self.rng.randint(15, 60)))
            if member.relation == "配偶" and member.married_on:  # moved in after the wedding
                moved = member.married_on + timedelta(days=self.rng.randint(20, 200))
                member.registered_on = max(registered_on, min(moved, self.today - timedelta(days=1)))
        head.members = members

    def _fixed_households(self) -> None:
        town_address = f"{NANHAI}桂城街道灯湖东路26号金沙湾花园3座1502房"
        zhiming = self._person(name=ZHIMING.name, id_number=ZHIMING.id_number, gender="男", birth=date(1986, 5, 14),
                               origin=None, address=town_address, ethnicity="汉族")
        lihua = self._person(name=LIHUA.name, id_number=LIHUA.id_number, gender="女", birth=date(1989, 9, 21),
                             origin=None, address=town_address, ethnicity="汉族")
        lihua.relation = "配偶"
        self._marry(zhiming, lihua, date(2015, 10, 8))
        son = self._person(name="陈梓轩", id_number="440605202103080157", gender="男", birth=date(2021, 3, 8),
                           origin=None, address=town_address, ethnicity="汉族")
        son.father, son.mother, son.relation = zhiming, lihua, "子"
        self._register(zhiming, [zhiming, lihua, son], date(2008, 6, 12))
        xiuying = self._person(name=XIUYING.name, id_number=XIUYING.id_number, gender="女", birth=date(1988, 2, 17),
                               origin=ORIGINS[0], address=f"{NANHAI}大沥镇凤池社区东街18号", ethnicity="汉族")
        self._register(xiuying, [xiuying], date(2019, 4, 1))

    def _random_household(self) -> None:
        birth = self._birth_date(24, 78)
        # Four in five are registered in Nanhai; the others come from a region whose codes existed at their birth.
        origin = None if self.rng.random() < 0.8 else self.rng.choice(
            [o for o in ORIGINS if _area_codes(o[1], birth.year)])
        address = self._home_address(self.rng.choice(list(TOWNS)))
        head = self._person(gender="男" if self.rng.random() < 0.75 else "女", birth=birth, origin=origin,
                            address=address)
        members = [head]
        spouse: Person | None = None
        if self.rng.random() < 0.75 and len(self.people) < PEOPLE:
            other = "女" if head.gender == "男" else "男"
            younger_wife = self.rng.randint(-2, 6)  # years
            shift = younger_wife if other == "女" else -younger_wife
            birth = max(min(head.birth_date + timedelta(days=365 * shift + self.rng.randint(0, 364)),
                            _add_years(self.today, -22)), date(1940, 1, 1))
            spouse = self._person(gender=other, birth=birth, origin=origin, address=address)
            spouse.relation = "配偶"
            legal = max(_add_years(head.birth_date, 22), _add_years(spouse.birth_date, 22))
            self._marry(head, spouse, self._date_between(legal, min(_add_years(legal, 8), self.today)))
            members.append(spouse)
            assert head.married_on is not None
            for _ in range(self.rng.choice([0, 1, 1, 2, 2, 3])):
                birth = self._date_between(head.married_on + timedelta(days=300), _add_years(head.married_on, 14))
                if birth < self.today - timedelta(days=60) and len(self.people) < PEOPLE:
                    members.append(self._child(head, spouse, birth))
        elif _age(head.birth_date, self.today) >= 35 and self.rng.random() < 0.35:
            head.divorced_on = self._date_between(_add_years(head.birth_date, 30), self.today - timedelta(days=90))
        if origin is None and _age(head.birth_date, self.today) < 50 and self.rng.random() < 0.15 \
                and len(self.people) < PEOPLE:
            parent = self._person(gender=self.rng.choice("男女"), birth=_add_years(head.birth_date, -self.rng.randint(
                24, 32)), origin=None, address=address, surname=head.name[0])
            parent.relation = "父母"
            members.append(parent)
        self._register(head, members, self._date_between(_add_years(head.birth_date, 18), self.today - timedelta(
            days=200)))

    # -- enterprises --

    def _uscc(self, kind: str, established: date) -> str:
        while True:
            if established.year >= 2015:  # codes given with the unified credit code start with MA
                code8 = "MA" + "".join(self.rng.choice(_USCC_LETTERS) for _ in range(6))
            else:
                code8 = "".join(self.rng.choice("0123456789") for _ in range(8))
            check = org_code_check(code8)
            body = f"{kind}440605{code8}{check}"
            number = body + uscc.calc_check_digit(body)
            if number not in self.ids:
                self.ids.add(number)
                return number

    def _pick_rep(self, taken: set[int], *, local_share: float) -> Person:
        want_local = self.rng.random() < local_share
        candidates = [p for p in self.people if id(p) not in taken and 25 <= _age(p.birth_date, self.today) <= 68
                      and p.local == want_local] or [
            p for p in self.people if id(p) not in taken and _age(p.birth_date, self.today) >= 22]
        rep = self.rng.choice(candidates)
        taken.add(id(rep))
        return rep

    def _business_address(self, town: str, *, shop: bool) -> str:
        if shop:
            road = self.rng.choice(TOWNS[town][0])
            return f"{NANHAI}{town}{road}{self.rng.randint(1, 300)}号首层{self.rng.randint(1, 12)}号铺"
        return f"{NANHAI}{town}{INDUSTRIAL_PARKS[town]}{self.rng.choice('ABCDE')}区{self.rng.randint(1, 60)}号"

    def _enterprise(self, *, rep: Person, individual: bool, trade: Trade, name: str | None = None,
                    town: str | None = None, established: date | None = None) -> Enterprise:
        town = town or self.rng.choice(list(TOWNS))
        established = established or self._date_between(date(1998, 1, 1), self.today - timedelta(days=40))
        while name is None or name in self.enterprise_names:  # names are unique in a registration area
            brand = rep.name[1:] if individual and name is None else self.rng.choice(TRADE_NAMES)
            name = f"佛山市南海区{town[:2] if individual else ''}{brand}{trade.suffix}"
        self.enterprise_names.add(name)
        entity_type = "个体工商户" if individual else self.rng.choices(
            ["有限责任公司", "股份有限公司", "外商投资企业"], weights=[90, 6, 4])[0]
        enterprise = Enterprise(
            uscc=self._uscc("92" if individual else "91", established), name=name, individual=individual,
            trade=trade, entity_type=entity_type, legal_rep=rep, established_on=established,
            address=self._business_address(town, shop=individual or trade.food_form is not None),
            registration_no=f"440605{6 if individual else 0}{self._next():08d}",
            capital=None if individual else float(self.rng.choice([10, 30, 50, 100, 200, 300, 500, 1000, 3000])))
        self.enterprises.append(enterprise)
        return enterprise

    def _enterprises(self) -> None:
        by_id = {p.id_number: p for p in self.people}
        taken = {id(by_id[a.id_number]) for a in DEMO_APPLICANTS}
        self._enterprise(rep=by_id[ZHIMING.id_number], individual=False, trade=COMPANY_TRADES[0],
                         name="佛山市南海区志明五金制品有限公司", town="狮山镇", established=date(2016, 4, 18))
        self._enterprise(rep=by_id[LIHUA.id_number], individual=False, trade=COMPANY_TRADES[11],
                         name="佛山市南海区丽华餐饮管理有限公司", town="桂城街道", established=date(2019, 8, 6))
        self._enterprise(rep=by_id[XIUYING.id_number], individual=True, trade=SHOP_TRADES[0],
                         name="佛山市南海区大沥秀英士多店", town="大沥镇", established=date(2021, 11, 15))
        for individual, count, share, trades in ((False, COMPANIES, 0.85, COMPANY_TRADES),
                                                 (True, INDIVIDUAL_BUSINESSES, 0.5, SHOP_TRADES)):
            while len([e for e in self.enterprises if e.individual is individual]) < count:
                self._enterprise(rep=self._pick_rep(taken, local_share=share), individual=individual,
                                 trade=self.rng.choice(trades))
        companies = [e for e in self.enterprises if not e.individual]
        self_employed = {id(e.legal_rep) for e in self.enterprises if e.individual}
        for person in self.people:
            age = _age(person.birth_date, self.today)
            if 18 <= age <= 59 and id(person) not in self_employed and self.rng.random() < 0.85:
                person.employer = next((e for e in companies if e.legal_rep is person), None) \
                    or self.rng.choice(companies)
                person.employer.employees.append(person)

    # -- records --

    def build(self) -> DemoWorld:
        self._fixed_households()
        while len(self.people) < PEOPLE:
            self._random_household()
        self._enterprises()
        pushes = {
            "id-card": self._id_cards(), "household-register": self._household_registers(),
            "residence-permit": self._residence_permits(), "marriage-cert": self._marriage_certs(),
            "marriage-record": self._marriage_records(), "real-estate-certificate": self._real_estate(),
            "social-insurance-certificate": self._social_insurance(),
            "birth-medical-certificate": self._birth_certificates(),
            "disability-certificate": self._disability_certificates(),
            "business-license": self._business_licenses(),
            "individual-business-license": self._individual_licenses(),
            "food-business-license": self._food_licenses(), "tax-payment-certificate": self._tax_certificates(),
            "employer-insurance-certificate": self._employer_insurance(),
        }
        batches = [self._batch("push", item, records) for item, records in pushes.items()]
        batches.append(self._batch("push", "business-license", self._business_license_changes(pushes),
                                   key_suffix="changes"))
        for item, numbers, reason in self._revocations(pushes):
            batches.append(self._batch("revoke", item, [
                {"catalog_item": item, "record_no": number, "reason": reason,
                 "revoked_at": (self.anchor - timedelta(hours=self.rng.randint(1, 6))).isoformat(timespec="seconds")}
                for number in numbers]))
        return DemoWorld(self.people, self.enterprises, batches)

    def _batch(self, operation: Literal["push", "revoke"], item: str, records: list[dict[str, Any]], *,
               key_suffix: str = "") -> Batch:
        name = f"{operation}-{item}" + (f"-{key_suffix}" if key_suffix else "")
        return Batch(operation, item, SOURCE_OF[item], f"{KEY_PREFIX}:{name}", records)

    def _record(self, item: str, record_no: str, subject: str, name: str, fields: dict[str, Any], *,
                valid_from: date | None = None, valid_until: date | None = None) -> dict[str, Any]:
        record: dict[str, Any] = {"catalog_item": item, "record_no": record_no, "subject_id": subject,
                                  "subject_name": name, "fields": fields, "produced_at": self._produced_at()}
        if valid_from is not None:
            record["valid_from"] = valid_from.isoformat()
        if valid_until is not None:
            record["valid_until"] = valid_until.isoformat()
        return record

    def _id_card_term(self, birth: date, issued: date) -> int | None:
        """Years an ID card issued at that age is valid (GB/T: under 16: 5, to 25: 10, to 45: 20, then long-term)."""
        age = _age(birth, issued)
        return 5 if age < 16 else 10 if age <= 25 else 20 if age <= 45 else None

    def _id_cards(self) -> list[dict[str, Any]]:
        records = []
        expired = 0
        for person in self.people:
            if _age(person.birth_date, self.today) < 16:
                continue
            sixteen = _add_years(person.birth_date, 16)
            issued = self._date_between(max(sixteen, self.today - timedelta(days=3650)),
                                        self.today - timedelta(days=20))
            term = self._id_card_term(person.birth_date, issued)
            if term is not None and _add_years(issued, term) < self.today:
                if expired < 2:
                    expired += 1  # two holders forgot to renew
                else:  # renewed: a later card, valid today
                    issued = self._date_between(max(sixteen, _add_years(self.today, -term) + timedelta(days=30)),
                                                self.today - timedelta(days=20))
                    term = self._id_card_term(person.birth_date, issued)
            authority = POLICE if person.local else f"{county_name(person.id_number)}公安局"
            records.append(self._record("id-card", f"SFZ{issued:%Y}{self._next():07d}", person.id_number, person.name, {
                "name": person.name, "gender": person.gender, "ethnicity": person.ethnicity,
                "birth_date": person.birth_date.isoformat(), "address": person.address,
                "id_number": person.id_number, "issuing_authority": authority,
            }, valid_from=issued, valid_until=_add_years(issued, term) if term else None))
        return records

    def _household_registers(self) -> list[dict[str, Any]]:
        records = []
        for head in self.people:
            if head.household is None or head.relation != "户主":
                continue
            for index, member in enumerate(head.members, start=1):
                fields: dict[str, Any] = {
                    "household_no": head.household.number, "household_type": "家庭户",
                    "householder_name": head.name, "relation_to_householder": member.relation,
                    "name": member.name, "gender": member.gender, "birth_date": member.birth_date.isoformat(),
                    "native_place": member.native_place, "address": head.household.address,
                }
                if member.registered_on:
                    fields["registered_on"] = member.registered_on.isoformat()
                records.append(self._record("household-register", f"HJ{head.household.number}-{index:02d}",
                                            member.id_number, member.name, fields))
        return records

    def _residence_permits(self) -> list[dict[str, Any]]:
        records = []
        for person in self.people:
            if person.local or _age(person.birth_date, self.today) < 16:
                continue
            issued = self._date_between(self.today - timedelta(days=3 * 365 + 200), self.today - timedelta(days=15))
            records.append(self._record("residence-permit", f"JZZ440605{self._next():09d}", person.id_number,
                                        person.name, {
                                            "name": person.name, "gender": person.gender,
                                            "id_number": person.id_number, "residence_address": person.address,
                                            "issuing_authority": POLICE, "issued_on": issued.isoformat(),
                                        }, valid_from=issued, valid_until=_add_years(issued, 3) - timedelta(days=1)))
        return records

    def _marriage_certs(self) -> list[dict[str, Any]]:
        records = []
        for person in self.people:
            if person.spouse is None or person.marriage_cert_no is None or person.married_on is None:
                continue
            holder = 1 if person.gender == "男" else 2
            records.append(self._record("marriage-cert", f"{person.marriage_cert_no}-{holder}", person.id_number,
                                        person.name, {
                                            "cert_no": person.marriage_cert_no, "holder_name": person.name,
                                            "registered_on": person.married_on.isoformat(),
                                            "holder_id_number": person.id_number,
                                            "spouse_name": person.spouse.name,
                                            "spouse_id_number": person.spouse.id_number,
                                            "registration_authority": CIVIL_AFFAIRS,
                                        }, valid_from=person.married_on))
        return records

    def _marriage_records(self) -> list[dict[str, Any]]:
        records = []
        for person in self.people:
            if not person.local or _age(person.birth_date, self.today) < 20:
                continue
            fields: dict[str, Any] = {"name": person.name}
            if person.spouse is not None and person.married_on is not None:
                fields.update(marital_status="已婚", registration_type="结婚登记",
                              registered_on=person.married_on.isoformat(), spouse_name=person.spouse.name,
                              spouse_id_number=person.spouse.id_number, registration_authority=CIVIL_AFFAIRS)
            elif person.divorced_on is not None:
                ex_gender = "女" if person.gender == "男" else "男"
                ex_birth = person.birth_date + timedelta(days=self.rng.randint(-900, 900))
                fields.update(marital_status="离婚", registration_type="离婚登记",
                              registered_on=person.divorced_on.isoformat(),
                              spouse_name=self._surname() + self.rng.choice(GIVEN_NAMES[(ex_gender, 1)]),
                              spouse_id_number=self._id_number(self._area(ex_birth, None), ex_birth, ex_gender),
                              registration_authority=CIVIL_AFFAIRS)
            else:
                fields["marital_status"] = "未婚"
            records.append(self._record("marriage-record", f"HY{self._next():08d}", person.id_number, person.name,
                                        fields))
        return records

    def _real_estate(self) -> list[dict[str, Any]]:
        records = []
        for head in self.people:
            if head.relation != "户主" or self.rng.random() > (0.75 if head.local else 0.15):
                continue
            registered = self._date_between(max(_add_years(head.birth_date, 22), date(2008, 1, 1)),
                                            self.today - timedelta(days=30))
            village = any(v in head.address for _, _, villages in TOWNS.values() for v in villages)
            # 不动产单元号: county (6), cadastral zone and subzone (6), parcel (GB + 5), building and unit (F + 8).
            rng = self.rng
            unit_no = (f"440605{rng.randint(1, 20):03d}{rng.randint(1, 999):03d}GB{rng.randint(1, 99999):05d}"
                       f"F{rng.randint(1, 9999):04d}{rng.randint(1, 9999):04d}")
            owners = [head] + ([head.spouse] if head.spouse is not None and head.spouse in head.members else [])
            area = round(self.rng.uniform(55, 165), 2)
            for owner in owners:
                cert_no = f"粤（{registered.year}）佛南不动产权第{self._next():07d}号"
                records.append(self._record("real-estate-certificate", cert_no, owner.id_number, owner.name, {
                    "cert_no": cert_no, "obligee": owner.name,
                    "co_ownership": "共同共有" if len(owners) > 1 else "单独所有",
                    "location": head.address.removeprefix("广东省"), "unit_no": unit_no,
                    "right_type": "宅基地使用权/房屋所有权" if village else "国有建设用地使用权/房屋所有权",
                    "usage": "住宅", "area": area, "registered_on": registered.isoformat(),
                }, valid_from=registered))
        return records

    def _last_month(self) -> str:
        first = self.today.replace(day=1) - timedelta(days=1)
        return f"{first:%Y-%m}"

    def _social_insurance(self) -> list[dict[str, Any]]:
        records = []
        for person in self.people:
            if person.employer is None:
                continue
            first = self._date_between(max(_add_years(person.birth_date, 18), date(1995, 1, 1)),
                                       self.today - timedelta(days=60))
            months = (self.today.year - first.year) * 12 + self.today.month - first.month
            paid = max(1, months - self.rng.choice([0, 0, 0, 3, 6, 12, 24]))
            records.append(self._record("social-insurance-certificate", f"SB{self._next():09d}", person.id_number,
                                        person.name, {
                                            "name": person.name, "employer": person.employer.name,
                                            "insurance_types": PERSONAL_INSURANCE,
                                            "status": "正常参保" if self.rng.random() < 0.93 else "暂停缴费",
                                            "first_insured_on": first.isoformat(), "paid_months": min(paid, months),
                                            "last_paid_month": self._last_month(),
                                        }))
        return records

    def _birth_certificates(self) -> list[dict[str, Any]]:
        records = []
        for child in self.people:
            if child.mother is None or child.father is None or child.birth_date.year < 2008:
                continue
            letter = "MNPQRTUWXY"[min(9, (child.birth_date.year - 2008) // 2)]
            cert_no = f"{letter}{440000000 + self._next():09d}"
            records.append(self._record("birth-medical-certificate", cert_no, child.id_number, child.name, {
                "cert_no": cert_no, "child_name": child.name, "gender": child.gender,
                "birth_date": child.birth_date.isoformat(), "birth_place": NANHAI,
                "birth_weight": self.rng.randint(2600, 4200), "mother_name": child.mother.name,
                "mother_id_number": child.mother.id_number, "father_name": child.father.name,
                "father_id_number": child.father.id_number, "issuing_institution": self.rng.choice(HOSPITALS),
            }))
        return records

    def _disability_certificates(self) -> list[dict[str, Any]]:
        records = []
        for person in self.people:
            if person.id_number in {a.id_number for a in DEMO_APPLICANTS} or self.rng.random() > 0.03:
                continue
            category = self.rng.randrange(len(DISABILITIES))
            level = self.rng.randint(1, 4)
            issued = self._date_between(max(person.birth_date, self.today - timedelta(days=3000)),
                                        self.today - timedelta(days=10))
            fields: dict[str, Any] = {
                "cert_no": f"{person.id_number}{category + 1}{level}", "name": person.name,
                "gender": person.gender, "category": DISABILITIES[category], "level": "一二三四"[level - 1] + "级",
                "issued_on": issued.isoformat(),
            }
            if DISABILITIES[category] in ("智力残疾", "精神残疾") and person.spouse is not None:
                fields["guardian_name"] = person.spouse.name
            records.append(self._record("disability-certificate", f"CJR{self._next():08d}", person.id_number,
                                        person.name, fields, valid_from=issued,
                                        valid_until=_add_years(issued, 10) - timedelta(days=1)))
        return records

    def _business_license_fields(self, enterprise: Enterprise, address: str) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "enterprise_name": enterprise.name, "entity_type": enterprise.entity_type,
            "legal_rep_name": enterprise.legal_rep.name, "legal_rep_id": enterprise.legal_rep.id_number,
            "established_on": enterprise.established_on.isoformat(), "address": address,
            "business_scope": enterprise.trade.scope, "registration_authority": MARKET_REGULATION,
        }
        if enterprise.capital is not None:
            fields["registered_capital"] = enterprise.capital
        return fields

    def _business_licenses(self) -> list[dict[str, Any]]:
        records = []
        for enterprise in self.enterprises:
            if enterprise.individual:
                continue
            term = None if self.rng.random() < 0.85 else self.rng.choice([20, 30])
            records.append(self._record(
                "business-license", enterprise.registration_no, enterprise.uscc, enterprise.name,
                self._business_license_fields(enterprise, enterprise.address), valid_from=enterprise.established_on,
                valid_until=_add_years(enterprise.established_on, term) - timedelta(days=1) if term else None))
        return records

    def _business_license_changes(self, pushes: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """Three companies moved (变更登记 of the address): their food license, if any, still names the old one."""
        first = {r["record_no"]: r for r in pushes["business-license"]}
        movers = [e for e in self.enterprises[3:] if not e.individual][:3]
        records = []
        for enterprise in movers:
            old = first[enterprise.registration_no]
            town = self.rng.choice(list(TOWNS))
            enterprise.address = self._business_address(town, shop=enterprise.trade.food_form is not None)
            changed = {**old, "fields": self._business_license_fields(enterprise, enterprise.address),
                       "produced_at": (self.anchor - timedelta(minutes=self.rng.randint(1, 4))).isoformat(
                           timespec="seconds")}
            records.append(changed)
        return records

    def _individual_licenses(self) -> list[dict[str, Any]]:
        return [self._record("individual-business-license", e.registration_no, e.uscc, e.name, {
            "business_name": e.name, "legal_rep_name": e.legal_rep.name, "legal_rep_id": e.legal_rep.id_number,
            "organization_form": "个人经营" if self.rng.random() < 0.8 else "家庭经营", "address": e.address,
            "business_scope": e.trade.scope, "registered_on": e.established_on.isoformat(),
        }, valid_from=e.established_on) for e in self.enterprises if e.individual]

    def _food_licenses(self) -> list[dict[str, Any]]:
        records = []
        expired = 0
        forms = {"食品销售经营者": 1, "餐饮服务经营者": 2, "单位食堂": 3}
        for enterprise in self.enterprises:
            form = enterprise.trade.food_form
            if form is None and not enterprise.individual and len(enterprise.employees) >= 4 \
                    and self.rng.random() < 0.3:
                form = "单位食堂"  # a factory's staff canteen
            if form is None:
                continue
            first = max(enterprise.established_on + timedelta(days=20), self.today - timedelta(days=5 * 365 - 30))
            issued = self._date_between(first, self.today - timedelta(days=10))
            if expired < 2 and enterprise.legal_rep.id_number not in {a.id_number for a in DEMO_APPLICANTS} \
                    and enterprise.established_on < self.today - timedelta(days=6 * 365):
                expired += 1  # not renewed in time
                issued = self.today - timedelta(days=5 * 365 + self.rng.randint(10, 120))
            license_no = f"JY{forms[form]}440605{self._next():06d}{self.rng.randint(0, 9)}"
            items = enterprise.trade.food_items or "热食类食品制售"
            records.append(self._record("food-business-license", license_no, enterprise.uscc, enterprise.name, {
                "license_no": license_no, "operator_name": enterprise.name,
                "legal_rep_name": enterprise.legal_rep.name, "residence": enterprise.address,
                "premises": enterprise.address, "main_form": form, "business_items": items,
                "issuing_authority": MARKET_REGULATION, "issued_on": issued.isoformat(),
            }, valid_from=issued, valid_until=_add_years(issued, 5) - timedelta(days=1)))
        return records

    def _tax_certificates(self) -> list[dict[str, Any]]:
        records = []
        year = self.today.year - 1
        for enterprise in self.enterprises:
            if enterprise.individual or enterprise.established_on.year > year:
                continue
            number = f"{self.today.year}440605{self._next():08d}"
            records.append(self._record("tax-payment-certificate", number, enterprise.uscc, enterprise.name, {
                "certificate_no": number, "taxpayer_name": enterprise.name,
                "period_from": f"{year}-01-01", "period_to": f"{year}-12-31",
                "tax_types": self.rng.choice(TAX_TYPES),
                "amount_paid": round(self.rng.uniform(8_000, 2_500_000), 2),
                "credit_rating": self.rng.choices("ABMCD", weights=[35, 40, 18, 5, 2])[0],
                "in_arrears": self.rng.random() < 0.04,
            }))
        return records

    def _employer_insurance(self) -> list[dict[str, Any]]:
        return [self._record("employer-insurance-certificate", f"DW{self._next():09d}", e.uscc, e.name, {
            "employer_name": e.name, "insurance_types": EMPLOYER_INSURANCE,
            "insured_headcount": len(e.employees) + self.rng.randint(2, 180), "last_paid_month": self._last_month(),
            "in_arrears": self.rng.random() < 0.05,
        }) for e in self.enterprises if not e.individual]

    def _revocations(self, pushes: dict[str, list[dict[str, Any]]]) -> list[tuple[str, list[str], str]]:
        """A few records end (注销): two companies closed, a shop gave up its food license, a flat was sold."""
        demo = {a.id_number for a in DEMO_APPLICANTS}
        closing = [e for e in self.enterprises if not e.individual and e.legal_rep.id_number not in demo][-2:]
        shop = next(r for r in pushes["food-business-license"]
                    if r["fields"]["legal_rep_name"] not in {a.name for a in DEMO_APPLICANTS})
        flat = next(r for r in pushes["real-estate-certificate"] if r["subject_id"] not in demo)
        return [
            ("business-license", [e.registration_no for e in closing], "企业申请注销登记，已核准"),
            ("food-business-license", [shop["record_no"]], "经营者申请注销食品经营许可"),
            ("real-estate-certificate", [flat["record_no"]], "已办理转移登记，原不动产权证书注销"),
        ]
