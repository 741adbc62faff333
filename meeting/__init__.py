"""The weekly revenue meeting: snapshots, pipeline waterfall, forecast accuracy, decisions, pack.

    meeting.snapshots   take_snapshot / ensure_weekly_snapshot / backfill_demo_snapshots (frozen at the end of
                        the week under review), reading them back
    meeting.waterfall   pipeline_waterfall(start_deals, end_deals, window): bars that add up, with their deals
    meeting.changes     explain_week(engine, week): what changed since the last meeting, by driver and segment,
                        adding up exactly, with the sentence (the page, the pack and the digest)
    meeting.accuracy    forecast_accuracy over past weeks (recorded forecast vs actual won revenue)
    meeting.decisions   the decision log: add / update / close, carry-over of open items, history; what a
                        decision should move (metric, segment, direction, target value)
    meeting.outcomes    followed_decisions(engine, week): each decision's readings since it was taken and its
                        verdict at the due date
    meeting.pack        the week as a self-contained HTML file and an XLSX workbook
    meeting.digest      the Monday digest: the week's snapshot in short sections, as text, HTML, Slack, Teams
    meeting.alerts      the shared alert rules, checked after syncs and imports, each sent once until it clears
    meeting.channels    delivery: SMTP (STARTTLS when offered, SMTPS, relay) and Slack / Teams webhooks, retried
"""
