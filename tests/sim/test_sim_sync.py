"""Sync v1 documents and maps through the official library (twilio-api.md section 4)."""

import datetime
import json
import re

import pytest
from twilio.base.exceptions import TwilioRestException

SID = re.compile(r'^[A-Z]{2}[0-9a-f]{32}$')


def _etag(client):
    for k, v in client.http_client.last_response.headers.items():
        if k.lower() == 'etag':
            return v
    return None


def _svc(sim, client=None):
    return (client or sim.client()).sync.v1.services(sim.sync_service_sid)


def _is_dt(v):
    return isinstance(v, datetime.datetime) and v.utcoffset() == datetime.timedelta(0)


def test_service_fetch(sim):
    s = _svc(sim).fetch()
    assert s.sid == sim.sync_service_sid and s.sid.startswith('IS') and SID.match(s.sid)
    assert s.account_sid == sim.account_sid
    assert _is_dt(s.date_created)
    for k in ('documents', 'maps'):
        assert k in s.links


def test_document_crud_typed(sim):
    c = sim.client()
    svc = _svc(sim, c)
    data = {'totalTasks': 3, 'activityAvailableWorkers': 1, 'name': 'Zoë'}
    d = svc.documents.create(unique_name='SyncTaskRouterStats', data=data)
    assert SID.match(d.sid) and d.sid.startswith('ET')
    assert d.unique_name == 'SyncTaskRouterStats'
    assert d.data == data, 'data is a JSON object, not a string'
    assert isinstance(d.revision, str)
    assert d.account_sid == sim.account_sid and d.service_sid == sim.sync_service_sid
    assert _is_dt(d.date_created) and _is_dt(d.date_updated)
    assert d.date_expires is None
    assert d.created_by == 'system'
    assert _etag(c), 'document create carries an ETag'
    by_name = svc.documents('SyncTaskRouterStats').fetch()
    by_sid = svc.documents(d.sid).fetch()
    assert by_name.sid == by_sid.sid == d.sid
    assert by_name.data == data and by_name.revision == d.revision
    u = svc.documents(d.sid).update(data={'totalTasks': 4})
    assert u.data == {'totalTasks': 4}
    assert u.revision != d.revision
    assert svc.documents('SyncTaskRouterStats').fetch().revision == u.revision
    assert [x.sid for x in svc.documents.list()] == [d.sid]
    assert svc.documents(d.sid).delete() is True
    with pytest.raises(TwilioRestException) as e:
        svc.documents(d.sid).fetch()
    assert e.value.status == 404 and e.value.code in (54100, 20404)


def test_document_if_match_and_revisions(sim):
    c = sim.client()
    svc = _svc(sim, c)
    d = svc.documents.create(unique_name='doc', data={'n': 0})
    revs = [d.revision]
    etags = [_etag(c)]
    for i in range(1, 4):
        u = svc.documents('doc').update(data={'n': i}, if_match=revs[-1])
        assert u.data == {'n': i}
        revs.append(u.revision)
        etags.append(_etag(c))
    assert len(set(revs)) == 4, 'every write makes a new revision'
    assert len(set(etags)) == 4 and all(etags), 'the ETag follows the revision'
    with pytest.raises(TwilioRestException) as e:
        svc.documents('doc').update(data={'n': 99}, if_match=revs[0])
    assert e.value.status == 412
    assert e.value.code == 54103
    assert svc.documents('doc').fetch().data == {'n': 3}, 'a 412 must not write'
    # The raw error object.
    status, headers, body = sim.http_json(
        'POST', '/v1/Services/%s/Documents/doc' % sim.sync_service_sid,
        body={'Data': json.dumps({'n': 5})}, headers={'If-Match': revs[1]})
    assert status == 412
    assert body['status'] == 412 and body['code'] == 54103
    assert body['more_info'] == 'https://www.twilio.com/docs/errors/54103'
    assert isinstance(body['message'], str) and body['message']
    # The current revision and the ETag value are both accepted.
    assert svc.documents('doc').update(data={'n': 4}, if_match=revs[-1]).data == {'n': 4}
    cur = _etag(c)
    assert svc.documents('doc').update(data={'n': 5}, if_match=cur).data == {'n': 5}


def test_document_data_limit_16k(sim):
    svc = _svc(sim)
    # Just under 16 KiB of serialized JSON is accepted...
    filler = 'x' * (16 * 1024 - len(json.dumps({'f': ''})) - 1)
    ok = svc.documents.create(unique_name='big', data={'f': filler})
    assert len(ok.data['f']) == len(filler)
    # ...and anything over it is refused with 54006, on create and on update.
    with pytest.raises(TwilioRestException) as e:
        svc.documents.create(unique_name='too-big', data={'f': 'y' * (16 * 1024 + 10)})
    assert e.value.code == 54006 and e.value.status in (400, 413)
    with pytest.raises(TwilioRestException) as e:
        svc.documents('big').update(data={'f': 'y' * (16 * 1024 + 10)})
    assert e.value.code == 54006 and e.value.status in (400, 413)
    assert svc.documents('big').fetch().data == {'f': filler}


def test_unique_name_conflict_54301(sim):
    svc = _svc(sim)
    svc.documents.create(unique_name='dup', data={})
    with pytest.raises(TwilioRestException) as e:
        svc.documents.create(unique_name='dup', data={'a': 1})
    assert e.value.code == 54301 and e.value.status in (400, 409)
    svc.sync_maps.create(unique_name='dupmap')
    with pytest.raises(TwilioRestException) as e:
        svc.sync_maps.create(unique_name='dupmap')
    assert e.value.code == 54301 and e.value.status in (400, 409)


def test_document_bad_data_is_400(sim):
    status, _, body = sim.http_json(
        'POST', '/v1/Services/%s/Documents' % sim.sync_service_sid,
        body={'UniqueName': 'bad', 'Data': '{nope'})
    assert status == 400 and isinstance(body.get('code'), int)


def test_unknown_service_and_document_404(sim):
    c = sim.client()
    with pytest.raises(TwilioRestException) as e:
        c.sync.v1.services('IS' + '0' * 32).documents('x').fetch()
    assert e.value.status == 404
    with pytest.raises(TwilioRestException) as e:
        _svc(sim, c).documents('missing').fetch()
    assert e.value.status == 404


def test_map_and_items_crud(sim):
    c = sim.client()
    svc = _svc(sim, c)
    m = svc.sync_maps.create(unique_name='SyncTaskRouterTasks')
    assert SID.match(m.sid) and m.sid.startswith('MP')
    assert m.unique_name == 'SyncTaskRouterTasks' and isinstance(m.revision, str)
    assert svc.sync_maps('SyncTaskRouterTasks').fetch().sid == m.sid
    items = svc.sync_maps('SyncTaskRouterTasks').sync_map_items
    it = items.create(key='WT' + 'a' * 32, data={'status': 'pending'})
    assert it.key == 'WT' + 'a' * 32 and it.data == {'status': 'pending'}
    assert it.map_sid == m.sid and isinstance(it.revision, str)
    assert _is_dt(it.date_created)
    assert _etag(c)
    got = items('WT' + 'a' * 32).fetch()
    assert got.data == {'status': 'pending'} and got.revision == it.revision
    u = items('WT' + 'a' * 32).update(data={'status': 'reserved'}, if_match=it.revision)
    assert u.data == {'status': 'reserved'} and u.revision != it.revision
    with pytest.raises(TwilioRestException) as e:
        items('WT' + 'a' * 32).update(data={'status': 'x'}, if_match=it.revision)
    assert e.value.status == 412 and e.value.code == 54205
    assert items('WT' + 'a' * 32).fetch().data == {'status': 'reserved'}
    with pytest.raises(TwilioRestException) as e:
        items.create(key='k2', data={'f': 'z' * (16 * 1024 + 1)})
    assert e.value.code == 54006
    assert items('WT' + 'a' * 32).delete() is True
    with pytest.raises(TwilioRestException) as e:
        items('WT' + 'a' * 32).fetch()
    assert e.value.status == 404
    assert svc.sync_maps(m.sid).delete() is True
    with pytest.raises(TwilioRestException) as e:
        svc.sync_maps(m.sid).fetch()
    assert e.value.status == 404


def test_map_item_paging_and_order(sim):
    c = sim.client()
    items = _svc(sim, c).sync_maps.create(unique_name='many')
    items = _svc(sim, c).sync_maps('many').sync_map_items
    keys = ['key%03d' % i for i in range(250)]
    shuffled = keys[::7] + [k for k in keys if k not in keys[::7]]
    for k in shuffled:
        items.create(key=k, data={'k': k})
    n0 = len(c.http_client.requests)
    got = items.list(page_size=100)
    assert len(c.http_client.requests) - n0 == 3
    assert [i.key for i in got] == sorted(keys), 'items list in key order by default'
    desc = items.list(order='desc', page_size=100)
    assert [i.key for i in desc] == sorted(keys, reverse=True)
    frm = items.list(from_='key200', bounds='exclusive')
    assert [i.key for i in frm] == sorted(keys)[201:]
    frm = items.list(from_='key200')
    assert [i.key for i in frm] == sorted(keys)[200:]
    status, _, body = sim.http_json('GET', '/v1/Services/%s/Maps/many/Items?PageSize=100'
                                    % sim.sync_service_sid)
    assert body['meta']['key'] == 'items' and body['meta']['page_size'] == 100


def test_map_item_duplicate_key_refused(sim):
    items = _svc(sim).sync_maps.create(unique_name='m')
    items = _svc(sim).sync_maps('m').sync_map_items
    items.create(key='a', data={})
    with pytest.raises(TwilioRestException) as e:
        items.create(key='a', data={'x': 1})
    assert 400 <= e.value.status < 500


def test_document_ttl_sets_date_expires(sim):
    svc = _svc(sim)
    d = svc.documents.create(unique_name='ttl', data={}, ttl=3600)
    assert isinstance(d.date_expires, datetime.datetime)
    delta = (d.date_expires - d.date_created).total_seconds()
    assert 3590 <= delta <= 3610


def test_document_ttl_expires_with_the_clock(sim):
    svc = _svc(sim)
    svc.documents.create(unique_name='short', data={}, ttl=10)
    svc.documents.create(unique_name='forever', data={})
    sim.advance(11_000)
    with pytest.raises(TwilioRestException) as e:
        svc.documents('short').fetch()
    assert e.value.status == 404
    assert svc.documents('forever').fetch().data == {}


def test_items_of_a_missing_map_are_404_and_the_server_lives_on(sim):
    """Listing or creating items of a map that does not exist answers 404 (54200), and
    the emulator keeps serving (it once read the freed request after that reply)."""
    svc = _svc(sim)
    for _ in range(3):
        with pytest.raises(TwilioRestException) as e:
            svc.sync_maps('NoSuchMap').sync_map_items.create(key='k', data={'a': 1})
        assert e.value.status == 404 and e.value.code == 54200
        with pytest.raises(TwilioRestException) as e:
            svc.sync_maps('NoSuchMap').sync_map_items('k').fetch()
        assert e.value.status == 404 and e.value.code == 54200
        # a list whose first page fails surfaces through the page request in 7.7.1
        with pytest.raises(Exception):
            svc.sync_maps('NoSuchMap').sync_map_items.list(order='asc', from_='a')
    assert svc.fetch().sid == sim.sync_service_sid
