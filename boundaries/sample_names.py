"""Chinese names, numerals and phone numbers for the fictional sample district.

All invented: people's names are drawn from common surnames and given-name
characters, places from typical community, village and road names of Henan cities.
Every draw goes through the caller's numpy Generator, so output is reproducible.
"""

from __future__ import annotations

import numpy as np

DISTRICT_NAME = "样例区"
DISTRICT_CODE = "410799"

# (code suffix, name, zone): 001–099 urban streets, 100–199 towns.
STREETS: tuple[tuple[str, str, str], ...] = (
    ("001", "人民路街道", "old"),
    ("002", "解放路街道", "old"),
    ("003", "新华街道", "new"),
    ("004", "东湖街道", "new"),
    ("101", "柳林镇", "rural"),
    ("102", "石桥镇", "rural"),
)

COMMUNITY_STEMS = (
    "幸福", "和平", "胜利", "建设", "文化", "光明", "朝阳", "育才", "向阳", "东风",
    "团结", "民主", "长青", "花园", "滨河", "翠园", "金苑", "锦绣", "康宁", "阳光",
    "紫荆", "桂园", "龙泉", "华苑", "春晖", "青年", "园丁", "铁路", "纺织", "机械",
    "电厂", "健康", "北街", "南街", "东街", "西街", "新村", "平原", "劳动", "自由",
    "牧野", "卫河", "金穗", "宏力", "荣校", "振中", "友谊", "前进",
)  # fmt: skip

SURNAMES = (
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱",
    "高", "林", "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于",
    "董", "萧", "程", "曹", "袁", "邓", "许", "傅", "沈", "曾", "彭", "吕", "苏", "卢",
    "蒋", "蔡", "贾", "丁", "魏", "薛", "叶", "阎", "余", "潘", "杜", "戴", "夏", "钟",
)  # fmt: skip

GIVEN_CHARS = (
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
    "涛", "明", "超", "秀", "霞", "平", "刚", "桂", "英", "华", "玉", "兰", "建", "国",
    "红", "志", "文", "海", "波", "鹏", "辉", "晨", "宇", "欣", "婷", "雪", "浩", "凯",
    "佳", "琳", "鑫", "峰", "亮", "春", "梅", "新", "宏", "振", "东", "卫", "永", "德",
)  # fmt: skip

VILLAGE_SUFFIXES = ("庄", "寨", "营", "屯", "堡", "湾", "楼", "店", "坊", "集", "岗", "河")

ROADS = (
    "人民路", "解放路", "建设路", "胜利路", "和平路", "文化路", "新华路", "健康路",
    "平原路", "牧野大道", "东风路", "自由路", "劳动路", "卫河路", "金穗大道", "向阳路",
    "宏力大道", "新中大道", "荣校路", "友谊路", "北干道", "南干道", "东明大道", "华兰大道",
)  # fmt: skip

OLD_UNITS = (
    "纺织厂", "机械厂", "粮食局", "电业局", "供销社", "化肥厂", "第二建筑公司", "自来水公司",
    "印染厂", "棉纺厂", "卷烟厂", "搪瓷厂", "税务局", "交通局", "水利局", "农机站",
    "食品公司", "百货公司", "运输公司", "电池厂", "造纸厂", "制药厂", "煤建公司", "五金公司",
)  # fmt: skip

ESTATE_STEMS = (
    "幸福", "和谐", "锦绣", "阳光", "金色", "翠竹", "丽景", "华府", "名门", "御景", "东方",
    "书香", "盛世", "天骄", "怡园", "滨湖", "上城", "君悦", "凤凰", "碧水", "世纪", "绿洲",
    "海棠", "泰和", "恒大", "建业", "正商", "鑫苑", "永威", "融创",
)  # fmt: skip
ESTATE_SUFFIXES = ("小区", "花园", "家园", "苑", "府", "公寓", "新城", "名苑", "雅居")

DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 21 → 二十一, 105 → 一百零五 (n in 1..999)."""
    if not 0 < n < 1000:
        raise ValueError(n)
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    out = ""
    if hundreds:
        out += DIGITS[hundreds] + "百"
        if rest and tens == 0:
            return out + "零" + DIGITS[ones]
    if tens:
        out += ("" if tens == 1 and not hundreds else DIGITS[tens]) + "十"
    if ones:
        out += DIGITS[ones]
    return out


def person_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct Chinese personal names (surname + one or two characters)."""
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        name = str(rng.choice(SURNAMES)) + "".join(
            rng.choice(GIVEN_CHARS, size=int(rng.choice([1, 2], p=[0.3, 0.7])))
        )
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


# Real mobile number blocks (China Mobile/Unicom/Telecom), so numbers look genuine.
_MOBILE_PREFIXES = tuple(
    [f"13{d}" for d in range(10)] + [f"15{d}" for d in (0, 1, 2, 3, 5, 6, 7, 8, 9)]
    + [f"18{d}" for d in range(10)]
)  # fmt: skip


def phone_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct 11-digit mainland mobile numbers (13x, 15x, 18x blocks)."""
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        prefix = str(rng.choice(_MOBILE_PREFIXES))
        number = prefix + "".join(str(d) for d in rng.integers(0, 10, size=8))
        if number not in seen:
            seen.add(number)
            out.append(number)
    return out


def community_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct urban community names ending in 社区."""
    stems = rng.permutation(np.array(COMMUNITY_STEMS))[:n]
    return [f"{s}社区" for s in stems]


def village_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct village names: surname + place suffix + 村 (王庄村, 刘营村)."""
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        name = f"{rng.choice(SURNAMES)}{rng.choice(VILLAGE_SUFFIXES)}村"
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def short_place(name: str) -> str:
    """Drop the administrative suffix: 幸福社区 → 幸福, 王庄村 → 王庄, 柳林镇 → 柳林."""
    for suffix in ("街道", "社区", "村", "镇"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name
