"""The demo district's shared catalog and service items, as data; `backend.demo.seed` loads them via the services."""

from __future__ import annotations

from typing import Any

from backend.models import ItemKind, SubjectType

GENDERS = ["男", "女"]
ETHNIC_GROUPS = [
    "汉族", "壮族", "满族", "回族", "苗族", "维吾尔族", "土家族", "彝族", "蒙古族", "藏族", "布依族", "侗族", "瑶族",
    "朝鲜族", "白族", "哈尼族", "哈萨克族", "黎族", "傣族", "畲族", "其他",
]


def _field(key: str, label: str, type_: str = "string", *, required: bool = False, sensitive: bool = False,
           max_length: int | None = None, enum: list[str] | None = None, common: str | None = None) -> dict[str, Any]:
    return {"key": key, "label": label, "type": type_, "required": required, "sensitive": sensitive,
            "max_length": max_length, "enum": enum, "common": common}


def _text(key: str, label: str, max_length: int, **options: Any) -> dict[str, Any]:
    return _field(key, label, "string", max_length=max_length, **options)


def _choice(key: str, label: str, values: list[str], **options: Any) -> dict[str, Any]:
    return _field(key, label, "enum", enum=values, **options)


BATCH_1 = "2026年第一批"
BATCH_2 = "2026年第二批"

# Each entry: create_item arguments; every item is published once created.
CATALOG: list[dict[str, Any]] = [
    {
        "code": "id-card", "name": "居民身份证", "kind": ItemKind.LICENSE, "subject_type": SubjectType.PERSON,
        "source_department": "NH-GAJ", "batch": BATCH_1, "subject_name_field": "name",
        "fields": [
            _text("name", "姓名", 50, required=True, common="name"),
            _choice("gender", "性别", GENDERS, required=True, common="gender"),
            _choice("ethnicity", "民族", ETHNIC_GROUPS, required=True),
            _field("birth_date", "出生日期", "date", required=True, common="birth_date"),
            _text("address", "住址", 200, required=True, sensitive=True, common="address"),
            _text("id_number", "公民身份号码", 18, required=True, sensitive=True),
            _text("issuing_authority", "签发机关", 100, required=True),
        ],
    },
    {
        "code": "household-register", "name": "居民户口簿", "kind": ItemKind.LICENSE,
        "subject_type": SubjectType.PERSON, "source_department": "NH-GAJ", "batch": BATCH_1,
        "subject_name_field": "name",
        "fields": [
            _text("household_no", "户号", 20, required=True),
            _choice("household_type", "户别", ["家庭户", "集体户"], required=True),
            _text("householder_name", "户主姓名", 50, required=True),
            _choice("relation_to_householder", "与户主关系",
                    ["户主", "配偶", "子", "女", "父母", "孙子女", "兄弟姐妹", "其他"], required=True),
            _text("name", "姓名", 50, required=True, common="name"),
            _choice("gender", "性别", GENDERS, required=True, common="gender"),
            _field("birth_date", "出生日期", "date", required=True, common="birth_date"),
            _text("native_place", "籍贯", 50),
            _text("address", "住址", 200, required=True, sensitive=True),
            _field("registered_on", "登记日期", "date"),
        ],
    },
    {
        "code": "residence-permit", "name": "广东省居住证", "kind": ItemKind.LICENSE,
        "subject_type": SubjectType.PERSON, "source_department": "NH-GAJ", "batch": BATCH_2,
        "subject_name_field": "name",
        "fields": [
            _text("name", "姓名", 50, required=True, common="name"),
            _choice("gender", "性别", GENDERS, required=True),
            _text("id_number", "公民身份号码", 18, required=True, sensitive=True),
            _text("residence_address", "居住地址", 200, required=True, sensitive=True),
            _text("issuing_authority", "签发机关", 100, required=True),
            _field("issued_on", "签发日期", "date", required=True),
        ],
    },
    {
        "code": "marriage-cert", "name": "结婚证", "kind": ItemKind.LICENSE, "subject_type": SubjectType.PERSON,
        "source_department": "NH-MZJ", "batch": BATCH_1, "subject_name_field": "holder_name",
        "fields": [
            _text("cert_no", "结婚证字号", 30, required=True),
            _text("holder_name", "持证人", 50, required=True, common="name"),
            _field("registered_on", "登记日期", "date", required=True),
            _text("holder_id_number", "持证人身份证件号", 18, required=True, sensitive=True),
            _text("spouse_name", "配偶姓名", 50, required=True),
            _text("spouse_id_number", "配偶身份证件号", 18, required=True, sensitive=True),
            _text("registration_authority", "登记机关", 100, required=True),
        ],
    },
    {
        "code": "marriage-record", "name": "婚姻登记记录", "kind": ItemKind.DATA, "subject_type": SubjectType.PERSON,
        "source_department": "NH-MZJ", "batch": BATCH_2, "subject_name_field": "name",
        "fields": [
            _text("name", "姓名", 50, required=True, common="name"),
            _choice("marital_status", "婚姻状况", ["未婚", "已婚", "离婚", "丧偶"], required=True, sensitive=True),
            _choice("registration_type", "登记类别", ["结婚登记", "离婚登记", "补领结婚证", "补领离婚证", "撤销婚姻"]),
            _field("registered_on", "登记日期", "date"),
            _text("spouse_name", "配偶姓名", 50),
            _text("spouse_id_number", "配偶身份证件号", 18, sensitive=True),
            _text("registration_authority", "登记机关", 100),
        ],
    },
    {
        "code": "business-license", "name": "营业执照", "kind": ItemKind.LICENSE,
        "subject_type": SubjectType.ENTERPRISE, "source_department": "NH-SCJ", "batch": BATCH_1,
        "subject_name_field": "enterprise_name",
        "fields": [
            _text("enterprise_name", "名称", 200, required=True, common="name"),
            _choice("entity_type", "类型", ["有限责任公司", "股份有限公司", "个人独资企业", "合伙企业",
                                           "农民专业合作社", "外商投资企业", "其他"], required=True),
            _text("legal_rep_name", "法定代表人", 50, required=True, common="legal_rep"),
            _text("legal_rep_id", "法定代表人身份证件号码", 18, required=True, sensitive=True),
            _field("registered_capital", "注册资本（万元）", "number"),
            _field("established_on", "成立日期", "date", required=True),
            _text("address", "住所", 200, required=True, common="address"),
            _text("business_scope", "经营范围", 2000, required=True),
            _text("registration_authority", "登记机关", 100, required=True),
        ],
    },
    {
        "code": "individual-business-license", "name": "个体工商户营业执照", "kind": ItemKind.LICENSE,
        "subject_type": SubjectType.ENTERPRISE, "source_department": "NH-SCJ", "batch": BATCH_1,
        "subject_name_field": "business_name",
        "fields": [
            _text("business_name", "名称", 200, required=True, common="name"),
            # The operator acts for the business as a legal representative does (enterprise authorization).
            _text("legal_rep_name", "经营者", 50, required=True, common="legal_rep"),
            _text("legal_rep_id", "经营者身份证件号码", 18, required=True, sensitive=True),
            _choice("organization_form", "组成形式", ["个人经营", "家庭经营"], required=True),
            _text("address", "经营场所", 200, required=True, common="address"),
            _text("business_scope", "经营范围", 1000, required=True),
            _field("registered_on", "注册日期", "date", required=True),
        ],
    },
    {
        "code": "food-business-license", "name": "食品经营许可证", "kind": ItemKind.LICENSE,
        "subject_type": SubjectType.ENTERPRISE, "source_department": "NH-SCJ", "batch": BATCH_1,
        "subject_name_field": "operator_name",
        "fields": [
            _text("license_no", "许可证编号", 20, required=True),
            _text("operator_name", "经营者名称", 200, required=True, common="name"),
            _text("legal_rep_name", "法定代表人（负责人）", 50, required=True),
            _text("residence", "住所", 200, required=True),
            _text("premises", "经营场所", 200, required=True, common="address"),
            _choice("main_form", "主体业态", ["食品销售经营者", "餐饮服务经营者", "单位食堂"], required=True),
            _text("business_items", "经营项目", 500, required=True),
            _text("issuing_authority", "发证机关", 100, required=True),
            _field("issued_on", "发证日期", "date", required=True),
        ],
    },
    {
        "code": "tax-payment-certificate", "name": "纳税证明", "kind": ItemKind.DATA,
        "subject_type": SubjectType.ENTERPRISE, "source_department": "NH-SWJ", "batch": BATCH_1,
        "subject_name_field": "taxpayer_name",
        "fields": [
            _text("certificate_no", "证明编号", 30, required=True),
            _text("taxpayer_name", "纳税人名称", 200, required=True, common="name"),
            _field("period_from", "所属期起", "date", required=True),
            _field("period_to", "所属期止", "date", required=True),
            _text("tax_types", "税种", 200, required=True),
            _field("amount_paid", "实缴（退）金额（元）", "number", required=True),
            _choice("credit_rating", "纳税信用等级", ["A", "B", "M", "C", "D"]),
            _field("in_arrears", "是否存在欠税", "boolean", required=True),
        ],
    },
    {
        "code": "real-estate-certificate", "name": "不动产权证书", "kind": ItemKind.LICENSE,
        "subject_type": SubjectType.PERSON, "source_department": "NH-ZRJ", "batch": BATCH_1,
        "subject_name_field": "obligee",
        "fields": [
            _text("cert_no", "不动产权证号", 50, required=True),
            _text("obligee", "权利人", 100, required=True, common="name"),
            _choice("co_ownership", "共有情况", ["单独所有", "共同共有", "按份共有"], required=True),
            _text("location", "坐落", 200, required=True, sensitive=True),
            _text("unit_no", "不动产单元号", 28, required=True),
            _choice("right_type", "权利类型", ["国有建设用地使用权/房屋所有权", "宅基地使用权/房屋所有权",
                                              "集体建设用地使用权/房屋所有权", "国有建设用地使用权"], required=True),
            _choice("usage", "用途", ["住宅", "商业", "办公", "工业", "仓储", "其他"], required=True),
            _field("area", "面积（平方米）", "number", required=True),
            _field("registered_on", "登簿日期", "date", required=True),
        ],
    },
    {
        "code": "social-insurance-certificate", "name": "社会保险参保证明（个人）", "kind": ItemKind.DATA,
        "subject_type": SubjectType.PERSON, "source_department": "NH-RSJ", "batch": BATCH_1,
        "subject_name_field": "name",
        "fields": [
            _text("name", "姓名", 50, required=True, common="name"),
            _text("employer", "参保单位", 200),
            _text("insurance_types", "参保险种", 100, required=True),
            _choice("status", "参保状态", ["正常参保", "暂停缴费", "终止参保"], required=True),
            _field("first_insured_on", "首次参保日期", "date", required=True),
            _field("paid_months", "累计缴费月数", "number", required=True),
            _text("last_paid_month", "最近缴费年月", 7),
        ],
    },
    {
        "code": "employer-insurance-certificate", "name": "单位社会保险参保证明", "kind": ItemKind.DATA,
        "subject_type": SubjectType.ENTERPRISE, "source_department": "NH-RSJ", "batch": BATCH_2,
        "subject_name_field": "employer_name",
        "fields": [
            _text("employer_name", "单位名称", 200, required=True, common="name"),
            _text("insurance_types", "参保险种", 100, required=True),
            _field("insured_headcount", "参保人数", "number", required=True),
            _text("last_paid_month", "最近缴费年月", 7, required=True),
            _field("in_arrears", "是否存在欠费", "boolean", required=True),
        ],
    },
    {
        "code": "birth-medical-certificate", "name": "出生医学证明", "kind": ItemKind.LICENSE,
        "subject_type": SubjectType.PERSON, "source_department": "NH-WJJ", "batch": BATCH_1,
        "subject_name_field": "child_name",
        "fields": [
            _text("cert_no", "出生医学证明编号", 10, required=True),
            _text("child_name", "新生儿姓名", 50, required=True, common="name"),
            _choice("gender", "性别", GENDERS, required=True, common="gender"),
            _field("birth_date", "出生日期", "date", required=True, common="birth_date"),
            _text("birth_place", "出生地点", 200, required=True),
            _field("birth_weight", "出生体重（克）", "number"),
            _text("mother_name", "母亲姓名", 50, required=True),
            _text("mother_id_number", "母亲有效身份证件号码", 18, required=True, sensitive=True),
            _text("father_name", "父亲姓名", 50),
            _text("father_id_number", "父亲有效身份证件号码", 18, sensitive=True),
            _text("issuing_institution", "签发机构", 100, required=True),
        ],
    },
    {
        "code": "disability-certificate", "name": "中华人民共和国残疾人证", "kind": ItemKind.LICENSE,
        "subject_type": SubjectType.PERSON, "source_department": "NH-CLH", "batch": BATCH_2,
        "subject_name_field": "name",
        "fields": [
            _text("cert_no", "残疾人证号", 20, required=True, sensitive=True),
            _text("name", "姓名", 50, required=True, common="name"),
            _choice("gender", "性别", GENDERS, required=True),
            _choice("category", "残疾类别", ["视力残疾", "听力残疾", "言语残疾", "肢体残疾", "智力残疾", "精神残疾",
                                            "多重残疾"], required=True, sensitive=True),
            _choice("level", "残疾等级", ["一级", "二级", "三级", "四级"], required=True, sensitive=True),
            _text("guardian_name", "监护人姓名", 50),
            _field("issued_on", "发证日期", "date", required=True),
        ],
    },
]

# Each entry: create_service_item arguments. `fields` is the minimum the approval needs from that item.
SERVICE_ITEMS: list[dict[str, Any]] = [
    {
        "code": "SCJ-food-license-new", "name": "食品经营许可（新办）", "approval_department": "NH-SCJ",
        "subject_type": SubjectType.ENTERPRISE,
        "materials": [
            {"name": "营业执照", "catalog_item": "business-license",
             "fields": ["enterprise_name", "entity_type", "legal_rep_name", "address", "business_scope"]},
            {"name": "法定代表人身份证", "catalog_item": "id-card", "fields": ["name", "id_number"]},
            {"name": "经营场所平面图及设备布局图"},
            {"name": "食品安全管理制度文本"},
        ],
    },
    {
        "code": "SCJ-food-license-renewal", "name": "食品经营许可（延续）", "approval_department": "NH-SCJ",
        "subject_type": SubjectType.ENTERPRISE,
        "materials": [
            {"name": "营业执照", "catalog_item": "business-license",
             "fields": ["enterprise_name", "legal_rep_name", "address"]},
            {"name": "原食品经营许可证", "catalog_item": "food-business-license",
             "fields": ["license_no", "operator_name", "premises", "main_form", "business_items"]},
            {"name": "法定代表人身份证", "catalog_item": "id-card", "fields": ["name", "id_number"]},
        ],
    },
    {
        "code": "SCJ-individual-business-registration", "name": "个体工商户设立登记", "approval_department": "NH-SCJ",
        "subject_type": SubjectType.PERSON,
        "materials": [
            {"name": "经营者身份证", "catalog_item": "id-card", "fields": ["name", "gender", "id_number", "address"]},
            {"name": "经营场所使用证明（不动产权证书）", "catalog_item": "real-estate-certificate",
             "fields": ["cert_no", "obligee", "location", "usage"]},
            {"name": "个体工商户登记（备案）申请书"},
        ],
    },
    {
        "code": "WJJ-birth-registration", "name": "生育登记", "approval_department": "NH-WJJ",
        "subject_type": SubjectType.PERSON,
        "materials": [
            {"name": "夫妻双方居民身份证", "catalog_item": "id-card", "fields": ["name", "id_number"]},
            {"name": "结婚证", "catalog_item": "marriage-cert",
             "fields": ["cert_no", "holder_name", "spouse_name", "registered_on"]},
            {"name": "居民户口簿", "catalog_item": "household-register",
             "fields": ["household_no", "name", "relation_to_householder", "address"]},
        ],
    },
    {
        "code": "ZRJ-real-estate-transfer", "name": "不动产转移登记（存量房买卖）", "approval_department": "NH-ZRJ",
        "subject_type": SubjectType.PERSON,
        "materials": [
            {"name": "买卖双方居民身份证", "catalog_item": "id-card", "fields": ["name", "id_number", "address"]},
            {"name": "不动产权证书", "catalog_item": "real-estate-certificate"},
            {"name": "婚姻状况证明", "catalog_item": "marriage-record",
             "fields": ["name", "marital_status", "spouse_name", "spouse_id_number"]},
            {"name": "不动产买卖合同"},
            {"name": "完税凭证"},
        ],
    },
    {
        "code": "RSJ-pension-claim", "name": "基本养老保险待遇申领", "approval_department": "NH-RSJ",
        "subject_type": SubjectType.PERSON,
        "materials": [
            {"name": "居民身份证", "catalog_item": "id-card", "fields": ["name", "gender", "birth_date", "id_number"]},
            {"name": "社会保险参保证明", "catalog_item": "social-insurance-certificate",
             "fields": ["name", "insurance_types", "status", "first_insured_on", "paid_months"]},
            {"name": "居民户口簿", "catalog_item": "household-register", "fields": ["household_no", "name"]},
            {"name": "本人社会保障卡或银行账户信息"},
        ],
    },
    {
        "code": "RSJ-employment-subsidy", "name": "企业吸纳就业补贴申领", "approval_department": "NH-RSJ",
        "subject_type": SubjectType.ENTERPRISE,
        "materials": [
            {"name": "营业执照", "catalog_item": "business-license",
             "fields": ["enterprise_name", "legal_rep_name", "address"]},
            {"name": "单位社会保险参保证明", "catalog_item": "employer-insurance-certificate"},
            {"name": "纳税证明", "catalog_item": "tax-payment-certificate",
             "fields": ["taxpayer_name", "period_from", "period_to", "credit_rating", "in_arrears"]},
            {"name": "吸纳就业人员花名册"},
        ],
    },
    {
        "code": "MZJ-marriage-registration", "name": "内地居民结婚登记", "approval_department": "NH-MZJ",
        "subject_type": SubjectType.PERSON,
        "materials": [
            {"name": "双方居民身份证", "catalog_item": "id-card",
             "fields": ["name", "gender", "birth_date", "id_number"]},
            {"name": "双方居民户口簿", "catalog_item": "household-register",
             "fields": ["household_no", "name", "address"]},
            {"name": "婚姻状况", "catalog_item": "marriage-record", "fields": ["name", "marital_status"]},
            {"name": "双方近期半身免冠合影照片（2张）"},
        ],
    },
    {
        "code": "MZJ-disability-allowance", "name": "困难残疾人生活补贴和重度残疾人护理补贴申领",
        "approval_department": "NH-MZJ", "subject_type": SubjectType.PERSON,
        "materials": [
            {"name": "居民身份证", "catalog_item": "id-card", "fields": ["name", "id_number", "address"]},
            {"name": "残疾人证", "catalog_item": "disability-certificate",
             "fields": ["cert_no", "name", "category", "level"]},
            {"name": "居民户口簿", "catalog_item": "household-register", "fields": ["household_no", "name"]},
            {"name": "本人银行账户信息"},
        ],
    },
]
