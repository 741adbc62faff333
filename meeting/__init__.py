"""The weekly revenue meeting: snapshots, pipeline waterfall, forecast accuracy, decisions, pack.

    meeting.snapshots   take_snapshot / ensure_weekly_snapshot / backfill_demo_snapshots (frozen at the end of
                        the week under review), reading them back
    meeting.waterfall   pipeline_waterfall(start_deals, end_deals, window): bars that add up, with their deals
    meeting.accuracy    forecast_accuracy over past weeks (recorded forecast vs actual won revenue)
    meeting.decisions   the decision log: add / update / close, carry-over of open items, history
    meeting.pack        the week as a self-contained HTML file and an XLSX workbook
"""
