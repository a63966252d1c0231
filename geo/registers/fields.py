"""The words of a ledger: the headers each field goes by, the labels of coded values
(物业类型, 治理模式, 职务, 坐标系) and the thresholds an import applies."""

from __future__ import annotations

from geo.vocab import LEDGER_MIN_SCORE

# Field → headers seen in ledgers, as normalise() gives them; the first is the one
# exports write. Brackets after a header (户数（户）, 经度(GCJ02)) are ignored.
COMPOUND_FIELDS: dict[str, tuple[str, ...]] = {
    "key": ("编号", "楼院编号", "小区编号", "系统编号"),
    "name": ("小区名称", "楼院名称", "小区楼院名称", "名称", "小区"),
    "address": ("地址", "详细地址", "小区地址", "楼院地址"),
    "households": ("户数", "住户数", "总户数"),
    "buildings": ("楼栋数", "栋数", "楼栋"),
    "year_built": ("建成年代", "建成年份", "建成时间", "建设年代"),
    "management_type": ("物业类型", "管理方式", "管理类型", "物业管理方式"),
    "lon": ("经度",),
    "lat": ("纬度",),
    "crs": ("坐标系", "坐标系统"),
    "street": ("所在街道",),
    "community": ("所在社区",),
    "grid": ("所在网格",),
    "grid_code": ("网格编码",),
    "located_by": ("定位方式",),
    "match_score": ("匹配分",),
    "issues": ("存在问题", "问题"),
    "mode": ("治理模式", "整治模式", "管理模式"),
    "committee": ("业委会", "业委会成立", "业主委员会"),
    "works": ("整治项目", "完成整治", "整治完成情况"),
    "struck_off_on": ("销号日期", "销号时间"),
    "verified_by": ("验收人", "销号验收人"),
}
CAMPAIGN_FIELDS = ("issues", "mode", "committee", "works", "struck_off_on", "verified_by")
WORKER_FIELDS: dict[str, tuple[str, ...]] = {
    "key": ("编号", "工号", "人员编号"),
    "name": ("网格员", "姓名", "网格员姓名"),
    "phone": ("联系电话", "电话", "手机", "手机号", "手机号码"),
    "units": ("负责网格", "所属网格", "网格", "负责区域"),
    "unit_codes": ("网格编码", "单元编码"),  # preferred over names when present
    "role": ("职务", "角色", "岗位"),
}

SPECIAL_FIELDS: dict[str, tuple[str, ...]] = {
    "key": ("专属网格编码", "编码", "专属网格代码"),
    "name": ("专属网格名称", "专属网格", "名称", "单位名称"),
    "kind": ("类型", "专属网格类型"),
    "responsible_unit": ("责任单位", "主管单位", "负责单位"),
    "contact_name": ("联系人", "负责人"),
    "contact_phone": ("联系电话", "电话", "手机"),
    "grid": ("所在网格",),
    "grid_code": ("所在网格编码",),
}
FIELDS = {"compounds": COMPOUND_FIELDS, "workers": WORKER_FIELDS, "special_grids": SPECIAL_FIELDS}
MANAGEMENT_LABELS = {
    "property_company": ("物业公司", "物业", "物业管理", "专业物业", "有物业"),
    "unit": ("单位管理", "单位", "产权单位", "单位自管"),
    "self_governed": ("业主自管", "自管", "居民自治", "自治"),
    "unowned": ("无主管", "无主管楼院", "无物业", "无人管理", "弃管", "三无"),
}
MODE_LABELS = {
    "professional": ("专业型", "专业化物业", "专业"),
    "community": ("社区型", "社区托管", "社区"),
    "self_governed": ("自治型", "居民自治", "自治"),
}
ROLE_LABELS = {
    "worker": ("网格员", "专职网格员"),
    "leader": ("网格长",),
    "volunteer": ("志愿者",),
    "patroller": ("巡防员", "巡逻员"),
}
CRS_LABELS = {
    "wgs84": ("wgs84", "gps", "epsg4326"),
    "gcj02": ("gcj02", "高德", "腾讯", "火星"),
    "bd09": ("bd09", "百度"),
    "cgcs2000": ("cgcs2000", "2000", "国家2000", "epsg4490"),
}
# Governance status written on the compound (the sample's vocabulary).
GOVERNANCE_STATUS = {
    "property_company": "professional",
    "unit": "unit_managed",
    "self_governed": "self_governed",
}
MODE_STATUS: dict[str | None, str] = {
    "professional": "professional",
    "community": "community_managed",
    "self_governed": "self_governed",
}
MIN_SCORE = LEDGER_MIN_SCORE
# Kinds an address may be placed at: a street is too coarse to put a compound on.
PLACE_KINDS = ("compound", "special_grid", "grid", "community")
