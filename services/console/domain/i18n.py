"""The page texts, Chinese first, English on request. Pure: a dict per language and `text()`."""
from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

TEXTS: dict[str, tuple[str, str]] = {
    "app": ("双打平台工作台", "Shuangda console"),
    "skip": ("跳到正文", "Skip to content"),
    "lang_other": ("English", "中文"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "bad_login": ("用户名或密码错误。", "Wrong username or password."),
    "locked": ("登录失败次数过多，账户已暂时锁定，请稍后再试。",
               "Too many failed sign-ins: the account is locked for a while. Try again later."),
    "too_many": ("请求过于频繁，请稍后再试。", "Too many attempts. Please wait and try again."),
    "csrf": ("表单已过期，请刷新页面后重试。", "The form has expired. Reload the page and try again."),
    "signed_in_as": ("当前用户", "Signed in as"),
    "cases": ("案件", "Cases"),
    "my_cases": ("本单位案件（按下一法定时限排序）", "Our cases (by next legal deadline)"),
    "all_cases": ("全部案件", "All cases"),
    "case": ("案件", "Case"),
    "case_id": ("案件编号", "Case"),
    "category": ("类别", "Category"),
    "county": ("区县", "County"),
    "bureau": ("承办单位", "Bureau"),
    "state": ("状态", "State"),
    "next_deadline": ("下一法定时限", "Next legal deadline"),
    "legal_basis": ("法律依据", "Legal basis"),
    "deadlines": ("时限", "Deadlines"),
    "kind": ("类型", "Kind"),
    "due": ("到期", "Due"),
    "opened": ("受理时间", "Opened"),
    "summary": ("摘要", "Summary"),
    "complainant": ("投诉人", "Complainant"),
    "no_cases": ("暂无案件。", "No cases."),
    "acknowledge": ("受理", "Accept"),
    "refuse": ("不予受理", "Refuse"),
    "reason": ("理由", "Reason"),
    "refused_command": ("操作被拒绝", "Refused"),
    "done": ("已完成", "Done"),
    "not_found": ("未找到该案件，或无权查看。", "No such case, or not yours to see."),
    "forbidden": ("无权访问此页面。", "You may not open this page."),
    "service_down": ("后台服务暂时不可用，请稍后再试。", "A service is unavailable; try again shortly."),
    "urgency_breached": ("已超期", "Breached"),
    "urgency_due_soon": ("即将到期", "Due soon"),
    "urgency_ok": ("未到期", "On time"),
    "urgency_none": ("无时限", "No deadline"),
    "state_assigned": ("待受理", "Awaiting acceptance"),
    "state_accepted": ("已受理", "Accepted"),
    "state_closed": ("已办结", "Closed"),
    "state_not_accepted": ("不予受理", "Not accepted"),
    "lookup": ("投诉进度查询", "Complaint status"),
    "lookup_intro": ("请输入受理编号和投诉时所留手机号码的后四位。",
                     "Enter the tracking number and the last 4 digits of the phone you gave."),
    "tracking_no": ("受理编号", "Tracking number"),
    "last4": ("手机号后四位", "Last 4 digits of your phone"),
    "look_up": ("查询", "Look up"),
    "lookup_refused": ("受理编号或手机号后四位不正确。", "The tracking number or the last 4 digits are not right."),
    "lookup_found": ("查询结果", "Status"),
    "stage": ("办理阶段", "Stage"),
    "ops": ("运维", "Operations"),
    "dead_letters": ("死信", "Dead letters"),
    "topic": ("主题", "Topic"),
    "count": ("数量", "Count"),
    "offset": ("偏移", "Offset"),
    "event": ("事件", "Event"),
    "detail": ("详情", "Detail"),
    "failed_at": ("失败时间", "Failed at"),
    "replay": ("重放", "Replay"),
    "replayed": ("已重放", "Replayed"),
    "no_dead_letters": ("没有死信。", "No dead letters."),
    "prometheus": ("Prometheus 指标", "Prometheus metrics"),
    "role_office": ("领导小组办公室", "Leading-group office"),
    "role_bureau": ("执法单位", "Bureau"),
    "role_police": ("公安机关", "Police"),
    "role_procuratorate": ("检察机关", "Procuratorate"),
    "role_ops": ("运维", "Operations"),
    "actions": ("操作", "Actions"),
    "public_lookup_link": ("公众查询", "Public lookup"),
}


def text(key: str, lang: Lang) -> str:
    """The text for `key` in `lang` (the key itself when unknown, so a missing text shows, not breaks)."""
    pair = TEXTS.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]


def pick_lang(value: str | None) -> Lang:
    return "en" if value == "en" else "zh"
