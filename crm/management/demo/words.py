"""What the demo's people write, in each of the two languages: a person's notes, next steps,
reports and answers are all in their own language (`pick`)."""

from __future__ import annotations

import random

ZH_PREFIX = [
    *("华润", "恒通", "远航", "金桥", "新锐", "瑞丰", "博远", "中科", "天泽", "鼎盛"),
    *("嘉禾", "宏达", "海川", "蓝天", "盛世", "长风", "星河", "万象", "东方", "明德"),
]
ZH_SUFFIX = [
    *("科技有限公司", "制造股份公司", "医疗器械有限公司", "物流集团", "智能装备有限公司"),
    *("新材料有限公司", "电子有限公司", "建设集团", "食品有限公司", "环保科技公司"),
]
EN_PREFIX = [
    *("Northwind", "Bluepeak", "Silverline", "Harbor", "Greenfield", "Apex", "Crescent"),
    *("Ironwood", "Summit", "Pacific", "Redstone", "Brightwater", "Evergreen", "Falcon"),
]
EN_SUFFIX = [
    *("Logistics", "Medical", "Robotics", "Foods", "Materials", "Energy", "Systems"),
    *("Packaging", "Instruments", "Retail Group"),
]
ZH_CONTACTS = ["王经理", "张总", "刘工", "陈主任", "杨采购", "赵总监", "黄经理", "周工", "吴总"]
EN_CONTACTS = ["Anna Schmidt", "David Park", "Maria Lopez", "James Wu", "Olivia Brown", "Ken Ito"]
CITIES = ["上海", "苏州", "北京", "天津", "Shenzhen", "Hangzhou"]
COMPETITORS = ["友商A", "友商B", "Acme Corp", "Globex", ""]

# Each entry: the Chinese variants, then the English ones.
WORDS: dict[str, tuple[list[str], list[str]]] = {
    "next_step": (
        ["约技术交流", "发报价单", "拜访采购部", "现场蹲点，见决策人"],
        [
            "Send revised quote",
            "Demo for the plant manager",
            "Confirm tender documents",
            "Call back after budget meeting",
        ],
    ),
    "note_ok": (
        ["客户有兴趣，要求下周演示", "见到了技术负责人，需求明确", "报价已发，等待反馈"],
        ["Talked to procurement, budget confirmed for Q1", "Customer asked for references"],
    ),
    "note_bad": (
        ["电话一直打不通", "客户说今年没有预算", "对方说再考虑考虑"],
        ["Receptionist refused to connect", "Competitor already installed last year"],
    ),
    "lost_reason": (["价格太高，客户选了友商", "项目取消"], ["Budget cut", "Project cancelled"]),
    "handoff_note": (
        ["老客户，跟紧一点", "鸡肋也是肉，试试看", ""],
        ["practice lead", "big account, report weekly", ""],
    ),
    "status_now": (
        ["客户技术部已认可方案，采购在走流程", "决策人出差，下周回来", "友商报价低 8%"],
        ["Procurement is reviewing our quote", "The plant manager wants a demo"],
    ),
    "what_i_did": (["上门拜访了两次，见到了技术负责人"], ["Sent references"]),
    "plan_next_step": (["约决策人面谈"], ["Demo at their plant"]),
    "backup_plan": (["找设备部的老同事引荐"], ["Offer a pilot"]),
    "ask": (["请您出面约一下对方总监，下周三前"], ["Approve 5% discount by Friday"]),
    "question": (["这个客户要不要先报低价抢进去？"], ["Should we bid low to get in?"]),
    "reply": (["好的，按计划推进，有问题随时找我。"], ["Good plan. Keep me posted."]),
}


def pick(rng: random.Random, what: str, language: str) -> str:
    """One of the `what` phrases, in `language` (a User.language)."""
    chinese, english = WORDS[what]
    return rng.choice(chinese if language == "zh-hans" else english)
