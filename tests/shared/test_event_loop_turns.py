"""Long CPU work inside a request lets the event loop serve other requests between its blocks: a payroll
file (一日捐) of many rows is read a block of rows at a time. (placenames' batches go to a worker process
instead: tests/placenames/test_parses_off_the_loop.py.)"""

import asyncio

from services.charity.campaigns.service import ROWS_AT_ONCE, parse_batch


async def test_reading_a_large_payroll_file_lets_other_tasks_run_between_blocks():
    rows = 20 * ROWS_AT_ONCE
    content = ("employee_no,name,amount\n" + "".join(f"E{i:06d},张三,{100 + i % 50}.50\n" for i in range(rows))).encode(
        "gb18030"
    )
    turns = 0

    async def other_request() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_request())
    await asyncio.sleep(0)
    before = turns
    parsed = await parse_batch(content)
    during = turns - before
    other.cancel()
    assert len(parsed) == rows and parsed[0] == (2, "E000000", 10050)
    assert during >= rows // ROWS_AT_ONCE - 1  # a turn for the others after every block, not one at the end
